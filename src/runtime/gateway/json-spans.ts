// Where the values of a JSON text lie, without parsing them: the elements of
// an array and the members of an object, as [start, end) offsets. The batch
// endpoint passes each item's answer on byte for byte (as a single request's
// answer is), so a number JSON.parse would round (an integer past 2^53) stays
// exactly as the predictor wrote it. The text must already be valid JSON.

export type Span = [start: number, end: number]

/** The spans of a JSON array's elements; null when the text is not an array. */
export function arrayElements(text: string): Span[] | null {
  let i = skipSpace(text, 0)
  if (text.charCodeAt(i) !== 0x5b /* [ */) return null
  const spans: Span[] = []
  i = skipSpace(text, i + 1)
  if (text.charCodeAt(i) === 0x5d /* ] */) return spans
  for (;;) {
    const end = skipValue(text, i)
    spans.push([i, end])
    i = skipSpace(text, end)
    if (text.charCodeAt(i) !== 0x2c /* , */) return spans
    i = skipSpace(text, i + 1)
  }
}

/** The spans of an object's member values by key (keys as JSON.parse reads them); null when the span is not an object. */
export function objectMembers(text: string, [start, end]: Span): Map<string, Span> | null {
  let i = skipSpace(text, start)
  if (text.charCodeAt(i) !== 0x7b /* { */) return null
  const members = new Map<string, Span>()
  i = skipSpace(text, i + 1)
  while (i < end && text.charCodeAt(i) === 0x22 /* " */) {
    const keyEnd = skipString(text, i)
    const key = JSON.parse(text.slice(i, keyEnd)) as string
    i = skipSpace(text, skipSpace(text, keyEnd) + 1) // past the colon
    const valueEnd = skipValue(text, i)
    members.set(key, [i, valueEnd])
    i = skipSpace(text, valueEnd)
    if (text.charCodeAt(i) !== 0x2c) break
    i = skipSpace(text, i + 1)
  }
  return members
}

function skipSpace(text: string, i: number): number {
  for (;;) {
    const c = text.charCodeAt(i)
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i
    i++
  }
}

function skipString(text: string, i: number): number {
  for (i++; ; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x5c /* \ */) i++
    else if (c === 0x22 || Number.isNaN(c)) return i + 1
  }
}

/** The end of the value starting at i. */
function skipValue(text: string, i: number): number {
  const c = text.charCodeAt(i)
  if (c === 0x22) return skipString(text, i)
  if (c === 0x5b || c === 0x7b) {
    let depth = 0
    for (; i < text.length; i++) {
      const d = text.charCodeAt(i)
      if (d === 0x22) i = skipString(text, i) - 1
      else if (d === 0x5b || d === 0x7b) depth++
      else if (d === 0x5d || d === 0x7d) {
        depth--
        if (depth === 0) return i + 1
      }
    }
    return i
  }
  // A number, true, false or null: up to the next delimiter.
  while (i < text.length) {
    const d = text.charCodeAt(i)
    if (d === 0x2c || d === 0x5d || d === 0x7d || d === 0x20 || d === 0x0a || d === 0x0d || d === 0x09) break
    i++
  }
  return i
}
