// Bytes sent against bytes the registry already had. The engine names each
// layer by its DiffID's first 12 hex digits and says whether it was pushed
// or present, but not how many bytes either was; the pushed manifest lists
// the layers' compressed sizes (what goes over the wire) in the same order
// as the image's DiffIDs, so the two are matched by position. Without the
// manifest, the engine's own progress totals (uncompressed) stand in for
// the layers sent, and present layers count 0.
import type {LayerState} from './progress.js'

export interface LayerBytes {
  /** The layer as the engine names it: its DiffID's first 12 hex digits. */
  id: string
  status: 'pushed' | 'present'
  /** Compressed bytes (from the manifest), or the engine's uncompressed progress total when the manifest could not be read. */
  bytes: number
}

export interface ByteAccount {
  layers: LayerBytes[]
  bytesSent: number
  bytesPresent: number
  /** Where the sizes came from. */
  sizes: 'manifest' | 'engine-progress'
}

/**
 * `diffIds`: the image's RootFS layers, bottom first; `manifestSizes`: the
 * pushed manifest's layer sizes in the same order, or null. A layer that
 * appears twice in the image (the same DiffID) is counted once.
 */
export function accountBytes(tracked: ReadonlyMap<string, LayerState>, diffIds: readonly string[], manifestSizes: readonly number[] | null): ByteAccount {
  const useManifest = manifestSizes !== null && manifestSizes.length === diffIds.length
  const layers: LayerBytes[] = []
  const seen = new Set<string>()
  diffIds.forEach((diffId, index) => {
    const id = diffId.replace(/^sha256:/, '').slice(0, 12)
    if (seen.has(id)) return
    seen.add(id)
    const state = tracked.get(id)
    const status = state?.sent ? 'pushed' : 'present'
    const bytes = useManifest ? manifestSizes[index] : status === 'pushed' ? (state?.total ?? 0) : 0
    layers.push({id, status, bytes})
  })
  const sum = (status: LayerBytes['status']) => layers.filter((l) => l.status === status).reduce((total, l) => total + l.bytes, 0)
  return {layers, bytesSent: sum('pushed'), bytesPresent: sum('present'), sizes: useManifest ? 'manifest' : 'engine-progress'}
}
