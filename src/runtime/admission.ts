// Admission control for one replica, with Cortex's semantics:
// - at most `slots` (processes_per_replica × threads_per_process) requests run at once;
// - further requests wait in a FIFO queue;
// - running plus waiting is capped at `maxConcurrency` (max_replica_concurrency);
//   past it a request is shed at once (the gateway answers 503 with Retry-After).
// Pure bookkeeping, no I/O: the gateway owns timing and sockets.
//
// The queue is an intrusive doubly-linked list threaded through the tickets, so
// a waiter that leaves (client gone, timeout) is unlinked at once: memory
// follows the number queued, not the number that ever arrived.

/**
 * - granted: the ticket holds a slot now;
 * - cancelled: it left the queue by its own release;
 * - evicted: the replica stopped being routable while it waited; place it elsewhere.
 */
export type AdmissionOutcome = 'granted' | 'cancelled' | 'evicted'

/** Told when a waiting ticket is granted or evicted; an object rather than a closure, so a request allocates none. */
export interface GrantListener {
  admissionOutcome(outcome: AdmissionOutcome): void
}

export class Ticket {
  state: 'waiting' | 'running' | 'done' = 'waiting'
  /** Called once when a waiting ticket is granted or evicted (not for one granted at admission). */
  onOutcome: GrantListener | null
  prev: Ticket | null = null
  next: Ticket | null = null
  private promise: Promise<AdmissionOutcome> | null = null
  private outcome: AdmissionOutcome | null = null

  constructor(
    private readonly controller: AdmissionController,
    onOutcome: GrantListener | null,
  ) {
    this.onOutcome = onOutcome
  }

  /** The outcome as a promise, made only when asked for: the gateway's path uses the listener. */
  get granted(): Promise<AdmissionOutcome> {
    if (this.outcome !== null) return Promise.resolve(this.outcome)
    this.promise ??= new Promise((resolve) => {
      const listener = this.onOutcome
      this.onOutcome = {
        admissionOutcome(outcome) {
          listener?.admissionOutcome(outcome)
          resolve(outcome)
        },
      }
    })
    return this.promise
  }

  /** Frees the ticket's place: its slot when running, its queue position when waiting. Idempotent. */
  release(): void {
    this.controller.release(this)
  }

  settle(outcome: AdmissionOutcome): void {
    this.outcome = outcome
    const listener = this.onOutcome
    this.onOutcome = null
    listener?.admissionOutcome(outcome)
  }
}

export class AdmissionController {
  private running = 0
  private head: Ticket | null = null
  private tail: Ticket | null = null
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
   * a slot at once has `state === 'running'` and its listener is not called.
   */
  admit(onOutcome: GrantListener | null = null): Ticket | null {
    if (this.inFlight >= this.maxConcurrency) {
      this.shedTotal++
      return null
    }
    const ticket = new Ticket(this, onOutcome)
    if (this.running < this.slots && this.waitingCount === 0) {
      this.running++
      ticket.state = 'running'
      ticket.settle('granted')
    } else {
      this.enqueue(ticket)
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
    this.unlink(ticket)
    ticket.state = 'done'
    ticket.settle('cancelled')
  }

  /** Changes the number of slots, e.g. while a worker process of the replica is restarting. */
  setSlots(slots: number): void {
    this.slots = Math.max(0, slots)
    this.grantNext()
  }

  /**
   * Empties the queue, telling each waiter it was evicted: the replica can no
   * longer serve it, so the gateway places it on another replica or answers 503.
   * Running tickets keep their slots until their requests end.
   */
  evictWaiting(): void {
    while (this.head !== null) {
      const ticket = this.head
      this.unlink(ticket)
      ticket.state = 'done'
      ticket.settle('evicted')
    }
  }

  private grantNext(): void {
    while (this.running < this.slots && this.head !== null) {
      const next = this.head
      this.unlink(next)
      this.running++
      next.state = 'running'
      next.settle('granted')
    }
  }

  private enqueue(ticket: Ticket): void {
    ticket.prev = this.tail
    if (this.tail) this.tail.next = ticket
    else this.head = ticket
    this.tail = ticket
    this.waitingCount++
  }

  private unlink(ticket: Ticket): void {
    if (ticket.prev) ticket.prev.next = ticket.next
    else this.head = ticket.next
    if (ticket.next) ticket.next.prev = ticket.prev
    else this.tail = ticket.prev
    ticket.prev = null
    ticket.next = null
    this.waitingCount--
  }
}
