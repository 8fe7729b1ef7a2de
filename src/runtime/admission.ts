// Admission control for one replica, with Cortex's semantics:
// - at most `slots` (processes_per_replica × threads_per_process) requests run at once;
// - further requests wait in a FIFO queue;
// - running plus waiting is capped at `maxConcurrency` (max_replica_concurrency);
//   past it a request is shed at once (the gateway answers 503 with Retry-After).
// Pure bookkeeping, no I/O: the gateway owns timing and sockets.

export type AdmissionOutcome = 'granted' | 'cancelled'

export class Ticket {
  /** Resolves when a slot is granted, or with 'cancelled' once the ticket is cancelled while waiting. */
  readonly granted: Promise<AdmissionOutcome>
  state: 'waiting' | 'running' | 'done' = 'waiting'
  resolveGrant!: (outcome: AdmissionOutcome) => void

  constructor(private readonly controller: AdmissionController) {
    this.granted = new Promise((resolve) => {
      this.resolveGrant = resolve
    })
  }

  /** Frees the ticket's place: its slot when running, its queue position when waiting. Idempotent. */
  release(): void {
    this.controller.release(this)
  }
}

export class AdmissionController {
  private running = 0
  private readonly waiting: Ticket[] = []
  // Index of the first live entry in `waiting`; shifting arrays is O(n), so the
  // queue is consumed by advancing a head and compacted occasionally.
  private head = 0
  private waitingCount = 0
  shedTotal = 0

  constructor(
    private slots: number,
    readonly maxConcurrency: number,
  ) {
    if (!Number.isInteger(slots) || slots < 1) throw new RangeError(`slots must be a positive integer, got ${slots}`)
    if (!Number.isInteger(maxConcurrency) || maxConcurrency < 1) {
      throw new RangeError(`maxConcurrency must be a positive integer, got ${maxConcurrency}`)
    }
  }

  get inFlight(): number {
    return this.running + this.waitingCount
  }

  get runningCount(): number {
    return this.running
  }

  get queuedCount(): number {
    return this.waitingCount
  }

  get capacity(): number {
    return this.slots
  }

  /** True when one more request would be shed. */
  get full(): boolean {
    return this.inFlight >= this.maxConcurrency
  }

  /**
   * Admits a request, or returns null when the replica already holds
   * max_replica_concurrency requests (the caller sheds it). A ticket that gets
   * a slot at once has `state === 'running'`.
   */
  admit(): Ticket | null {
    if (this.inFlight >= this.maxConcurrency) {
      this.shedTotal++
      return null
    }
    const ticket = new Ticket(this)
    if (this.running < this.slots && this.waitingCount === 0) {
      this.running++
      ticket.state = 'running'
      ticket.resolveGrant('granted')
    } else {
      this.waiting.push(ticket)
      this.waitingCount++
    }
    return ticket
  }

  release(ticket: Ticket): void {
    if (ticket.state === 'done') return
    if (ticket.state === 'running') {
      ticket.state = 'done'
      this.running--
      this.grantNext()
      return
    }
    // A waiting ticket leaves the queue (client gone or timed out). It is
    // marked done and skipped when the head reaches it.
    ticket.state = 'done'
    this.waitingCount--
    ticket.resolveGrant('cancelled')
    this.compact()
  }

  /** Changes the number of slots, e.g. while a worker process of the replica is restarting. */
  setSlots(slots: number): void {
    this.slots = Math.max(0, slots)
    this.grantNext()
  }

  private grantNext(): void {
    while (this.running < this.slots && this.waitingCount > 0) {
      const next = this.waiting[this.head++]
      if (next.state !== 'waiting') continue
      this.waitingCount--
      this.running++
      next.state = 'running'
      next.resolveGrant('granted')
    }
    this.compact()
  }

  private compact(): void {
    if (this.waitingCount === 0) {
      this.waiting.length = 0
      this.head = 0
    } else if (this.head > 1024 && this.head * 2 > this.waiting.length) {
      this.waiting.splice(0, this.head)
      this.head = 0
    }
  }
}
