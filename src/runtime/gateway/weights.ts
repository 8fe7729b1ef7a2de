// A splitter's weights as plain data: their check and their one-line form.
// Pure, so the client side (rollouts) uses them without loading the gateway.

/** API name → weight, a whole percentage. */
export type Weights = Record<string, number>

/** Why a set of weights cannot be used for a splitter over `names`, or null. With `open`, names beyond `names` are allowed (mlserve apply adds APIs). */
export function weightProblem(weights: Weights, names: readonly string[], open = false): string | null {
  const given = Object.keys(weights)
  if (given.length === 0) return 'no weights were given'
  for (const name of given) {
    if (!open && !names.includes(name)) return `"${name}" is not one of the splitter's APIs (${names.join(', ')})`
    const weight = weights[name]
    if (!Number.isInteger(weight) || weight < 0 || weight > 100) return `the weight of "${name}" is ${JSON.stringify(weight)}; a weight is a whole number from 0 to 100`
  }
  if (!open) {
    const missing = names.filter((name) => !given.includes(name))
    if (missing.length > 0) return `no weight was given for ${missing.map((name) => `"${name}"`).join(', ')}; give every API of the splitter`
  }
  const sum = given.reduce((total, name) => total + weights[name], 0)
  if (sum !== 100) return `the weights add up to ${sum}; they must add up to 100`
  return null
}

/** Weights as "a=90 b=10", for logs and change sentences. */
export function formatWeights(weights: Weights | null): string {
  return weights ? Object.entries(weights).map(([api, weight]) => `${api}=${weight}`).join(' ') : '-'
}
