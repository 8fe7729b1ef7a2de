// The engine's push progress (JSON lines, as dockerode's followProgress
// hands them over) read into per-layer state: each layer's phase, its
// progress, whether it was sent or the registry had it, and the pushed
// manifest's digest. Pure bookkeeping, so recorded streams test it.

/** One event of the engine's push stream. */
export interface EngineEvent {
  status?: string
  id?: string
  progress?: string
  progressDetail?: {current?: number; total?: number}
  aux?: {Tag?: string; Digest?: string; Size?: number}
  error?: string
  errorDetail?: {message?: string}
}

/**
 * preparing → waiting → pushing → pushed, or present: the registry had it
 * ("Layer already exists") or mounted it from another repository
 * ("Mounted from …"); retrying: the engine retries this layer itself.
 */
export type LayerPhase = 'preparing' | 'waiting' | 'pushing' | 'retrying' | 'pushed' | 'present'

/** What pushImage reports while it pushes. */
export type PushProgress =
  | {type: 'layer'; id: string; phase: LayerPhase; current: number | null; total: number | null; detail: string | null}
  /** An attempt failed with a transient failure; the next starts after delayMs. */
  | {type: 'retry'; attempt: number; attempts: number; delayMs: number; reason: string}
  | {type: 'digest'; digest: string; size: number | null}

export interface LayerState {
  id: string
  phase: LayerPhase
  current: number | null
  /** The engine's figure for the layer while sending: its uncompressed size. */
  total: number | null
  /** "Mounted from REPO", "Retrying in 5 seconds"… */
  detail: string | null
  /** Sent by this push, in this attempt or an earlier one. */
  sent: boolean
}

const DIGEST_LINE = /digest: (sha256:[0-9a-f]{64}) size: (\d+)/

/** Reads one push's events, across attempts: a layer sent in a failed attempt stays sent. */
export class PushTracker {
  /** In the order the engine first named them. */
  readonly layers = new Map<string, LayerState>()
  digest: string | null = null
  manifestSize: number | null = null
  /** The last error event of the current attempt. */
  error: string | null = null

  /** Starts a new attempt: phases are read afresh, what was sent stays sent. */
  startAttempt(): void {
    this.error = null
    for (const layer of this.layers.values()) if (!layer.sent) layer.phase = 'preparing'
  }

  /** Reads one event; returns what it means for the display, or null (headers, the repository line). */
  apply(event: EngineEvent): PushProgress | null {
    if (event.error || event.errorDetail?.message) {
      this.error = (event.errorDetail?.message ?? event.error ?? '').trim()
      return null
    }
    if (event.aux?.Digest) {
      this.digest = event.aux.Digest
      this.manifestSize = event.aux.Size ?? this.manifestSize
      return {type: 'digest', digest: this.digest, size: this.manifestSize}
    }
    const status = event.status ?? ''
    if (!event.id) {
      const match = DIGEST_LINE.exec(status)
      if (match) {
        // The aux event that follows says the same; keep whichever comes.
        this.digest = match[1]
        this.manifestSize = Number(match[2])
      }
      return null
    }
    const phase = phaseOf(status)
    if (phase === null) return null
    const layer = this.layers.get(event.id) ?? {id: event.id, phase, current: null, total: null, detail: null, sent: false}
    this.layers.set(event.id, layer)
    layer.phase = phase
    if (phase === 'pushing') {
      layer.current = event.progressDetail?.current ?? layer.current
      layer.total = event.progressDetail?.total ?? layer.total
    }
    if (phase === 'pushed') layer.sent = true
    layer.detail = phase === 'present' && status.startsWith('Mounted from') ? status : phase === 'retrying' ? status : null
    return {type: 'layer', id: layer.id, phase: layer.sent ? 'pushed' : phase, current: layer.current, total: layer.total, detail: layer.detail}
  }
}

function phaseOf(status: string): LayerPhase | null {
  if (status === 'Preparing') return 'preparing'
  if (status === 'Waiting') return 'waiting'
  if (status === 'Pushing') return 'pushing'
  if (status === 'Pushed') return 'pushed'
  if (status === 'Layer already exists' || status.startsWith('Mounted from')) return 'present'
  if (status.startsWith('Retrying in')) return 'retrying'
  return null
}
