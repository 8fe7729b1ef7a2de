// Image efficiency and wasted bytes, counted the way dive does, with its bug
// #684 fixed (see docs/build.md):
// - for every path, across layers, the cumulative size (the sum of its sizes)
//   and the minimum size;
// - a whiteout `.wh.NAME` records size 0 for NAME (its minimum becomes 0); a
//   whiteout of a directory, or an opaque `.wh..wh..opq`, records size 0 for
//   every file below it that lower layers hold;
// - efficiency = Σ minimum / Σ cumulative (1 when there are no bytes);
// - wasted bytes = Σ (cumulative − minimum) over paths seen in 2+ layers, not
//   dive's Σ cumulative, which counts the copy that is kept too;
// - user wasted percent = wasted bytes / the size of every layer after the first.
// Directories count as 0 bytes; only files (and links, at their tar size) count.


export interface LayerEntry {
  /** Path in the layer, as in its tar (leading `./` and `/` are ignored). */
  path: string
  /** Bytes (the tar header size). */
  size: number
  type: 'file' | 'directory' | 'symlink' | 'link' | 'other'
}

export interface InefficientPath {
  path: string
  /** How many layers hold (or delete) it. */
  count: number
  cumulative: number
  minimum: number
  wasted: number
}

export interface EfficiencyResult {
  efficiency: number
  wastedBytes: number
  /** Σ size of the layers after the first. */
  userSize: number
  userWastedPercent: number
  /** Σ cumulative over all paths. */
  cumulativeSize: number
  /** Σ minimum over all paths. */
  minimumSize: number
  /** The size of each layer: the sum of its entries' sizes. */
  layerSizes: number[]
  /** Paths seen in two or more layers, most wasteful first. */
  inefficient: InefficientPath[]
}

const WHITEOUT = '.wh.'
const OPAQUE = '.wh..wh..opq'

export function normalizeLayerPath(path: string): string {
  let p = path
  while (p.startsWith('./')) p = p.slice(2)
  while (p.startsWith('/')) p = p.slice(1)
  while (p.endsWith('/')) p = p.slice(0, -1)
  return p
}

interface PathData {
  count: number
  cumulative: number
  minimum: number
}

export function computeEfficiency(layers: ReadonlyArray<readonly LayerEntry[]>): EfficiencyResult {
  const data = new Map<string, PathData>()
  /** Files present in the stacked filesystem so far (not directories). */
  const live = new Map<string, number>()
  const layerSizes: number[] = []

  const observe = (path: string, size: number) => {
    const d = data.get(path)
    if (d === undefined) data.set(path, {count: 1, cumulative: size, minimum: size})
    else {
      d.count++
      d.cumulative += size
      if (size < d.minimum) d.minimum = size
    }
  }
  const deleteUnder = (prefix: string, includeSelf: boolean) => {
    if (includeSelf && live.has(prefix)) {
      // A file: it has no children.
      observe(prefix, 0)
      live.delete(prefix)
      return
    }
    for (const path of [...live.keys()]) {
      if ((includeSelf && path === prefix) || prefix === '' || path.startsWith(prefix + '/')) {
        observe(path, 0)
        live.delete(path)
      }
    }
  }

  for (const layer of layers) {
    let layerSize = 0
    const additions: LayerEntry[] = []
    // Whiteouts apply to the layers below, so they go first.
    for (const entry of layer) {
      const path = normalizeLayerPath(entry.path)
      const slash = path.lastIndexOf('/')
      const dir = slash < 0 ? '' : path.slice(0, slash)
      const base = path.slice(slash + 1)
      if (base === OPAQUE) deleteUnder(dir, false)
      else if (base.startsWith(WHITEOUT)) deleteUnder(dir === '' ? base.slice(WHITEOUT.length) : `${dir}/${base.slice(WHITEOUT.length)}`, true)
      else additions.push({...entry, path})
    }
    for (const entry of additions) {
      if (entry.path === '' || entry.type === 'directory') continue
      observe(entry.path, entry.size)
      live.set(entry.path, entry.size)
      layerSize += entry.size
    }
    layerSizes.push(layerSize)
  }

  let cumulativeSize = 0
  let minimumSize = 0
  const inefficient: InefficientPath[] = []
  for (const [path, d] of data) {
    cumulativeSize += d.cumulative
    minimumSize += d.minimum
    if (d.count >= 2) inefficient.push({path, count: d.count, cumulative: d.cumulative, minimum: d.minimum, wasted: d.cumulative - d.minimum})
  }
  inefficient.sort((a, b) => b.wasted - a.wasted || (a.path < b.path ? -1 : 1))
  const wastedBytes = inefficient.reduce((sum, p) => sum + p.wasted, 0)
  const userSize = layerSizes.slice(1).reduce((a, b) => a + b, 0)
  return {
    efficiency: cumulativeSize === 0 ? 1 : minimumSize / cumulativeSize,
    wastedBytes,
    userSize,
    userWastedPercent: userSize === 0 ? 0 : wastedBytes / userSize,
    cumulativeSize,
    minimumSize,
    layerSizes,
    inefficient,
  }
}

export interface CiThresholds {
  /** Fail when efficiency < this (dive: lowestEfficiency, default 0.9). */
  lowestEfficiency?: number
  /** Fail when user wasted percent > this (dive: highestUserWastedPercent, default 0.1). */
  highestUserWastedPercent?: number
  /** Fail when wasted bytes > this (dive: highestWastedBytes, off by default). */
  highestWastedBytes?: number
}

export const DEFAULT_CI_THRESHOLDS = {lowestEfficiency: 0.9, highestUserWastedPercent: 0.1} as const

export interface CiRuleResult {
  rule: 'lowestEfficiency' | 'highestUserWastedPercent' | 'highestWastedBytes'
  threshold: number
  value: number
  pass: boolean
  message: string
}

/** dive's .dive-ci rules; each fails on strict inequality. */
export function evaluateCi(result: Pick<EfficiencyResult, 'efficiency' | 'userWastedPercent' | 'wastedBytes'>, thresholds: CiThresholds): CiRuleResult[] {
  const rules: CiRuleResult[] = []
  if (thresholds.lowestEfficiency !== undefined) {
    const pass = !(result.efficiency < thresholds.lowestEfficiency)
    rules.push({
      rule: 'lowestEfficiency',
      threshold: thresholds.lowestEfficiency,
      value: result.efficiency,
      pass,
      message: `efficiency ${fmt(result.efficiency)} ${pass ? '≥' : '<'} lowest allowed ${fmt(thresholds.lowestEfficiency)}`,
    })
  }
  if (thresholds.highestUserWastedPercent !== undefined) {
    const pass = !(result.userWastedPercent > thresholds.highestUserWastedPercent)
    rules.push({
      rule: 'highestUserWastedPercent',
      threshold: thresholds.highestUserWastedPercent,
      value: result.userWastedPercent,
      pass,
      message: `user wasted ${fmt(result.userWastedPercent)} ${pass ? '≤' : '>'} highest allowed ${fmt(thresholds.highestUserWastedPercent)}`,
    })
  }
  if (thresholds.highestWastedBytes !== undefined) {
    const pass = !(result.wastedBytes > thresholds.highestWastedBytes)
    rules.push({
      rule: 'highestWastedBytes',
      threshold: thresholds.highestWastedBytes,
      value: result.wastedBytes,
      pass,
      message: `wasted ${result.wastedBytes} bytes ${pass ? '≤' : '>'} highest allowed ${thresholds.highestWastedBytes}`,
    })
  }
  return rules
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(6).replace(/0+$/, '').replace(/\.$/, '')
}
