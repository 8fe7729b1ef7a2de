// Small fault-injecting HTTP servers for tests, in the manner of autocannon's
// test helpers. Each listens on port 0 on loopback; close them in an after-hook.
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'

export interface TestServer {
  server: Server
  url: string
  /** Requests seen so far. */
  hits: () => number
  close: () => Promise<void>
}

export async function startServer(handler: (req: IncomingMessage, res: ServerResponse, hit: number) => void): Promise<TestServer> {
  let hits = 0
  const server = createServer((req, res) => {
    hits++
    handler(req, res, hits)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    hits: () => hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** Answers 503 with Retry-After for the first `failures` requests, then 200 with a JSON body. */
export function flakyServer(failures: number, retryAfter = '0'): Promise<TestServer> {
  return startServer((req, res, hit) => {
    req.resume()
    if (hit <= failures) {
      res.writeHead(503, {'retry-after': retryAfter, 'content-type': 'application/json'})
      res.end(JSON.stringify({error: 'busy'}))
      return
    }
    res.writeHead(200, {'content-type': 'application/json'})
    res.end(JSON.stringify({ok: true, hit}))
  })
}

/** Answers after `delayMs`. */
export function slowServer(delayMs: number): Promise<TestServer> {
  return startServer((req, res) => {
    req.resume()
    setTimeout(() => {
      res.writeHead(200, {'content-type': 'application/json'})
      res.end('{"ok":true}')
    }, delayMs)
  })
}

/** Resets the connection of the first `resets` requests without answering, then answers 200. */
export function resettingServer(resets: number): Promise<TestServer> {
  return startServer((req, res, hit) => {
    if (hit <= resets) {
      req.socket.destroy()
      return
    }
    req.resume()
    res.writeHead(200, {'content-type': 'application/json'})
    res.end('{"ok":true}')
  })
}

/** Answers at once, except that every `periodMs` it stalls every request for `stallMs`. */
export function stallingServer(periodMs: number, stallMs: number): Promise<TestServer> {
  const started = Date.now()
  return startServer((req, res) => {
    req.resume()
    const phase = (Date.now() - started) % periodMs
    const wait = phase < stallMs ? stallMs - phase : 0
    const answer = (): void => {
      res.writeHead(200, {'content-type': 'application/json'})
      res.end('{"ok":true}')
    }
    if (wait > 0) setTimeout(answer, wait)
    else answer()
  })
}

/** Answers 200 at once, with a small JSON body: the fastest target there is (a few hundred µs on loopback). */
export function instantServer(): Promise<TestServer> {
  const body = Buffer.from('{"ok":true}')
  return startServer((req, res) => {
    req.resume()
    res.writeHead(200, {'content-type': 'application/json', 'content-length': body.length})
    res.end(body)
  })
}

/** Answers at once with the status `statusFor(hit)` picks for the hit-th request (1-based). */
export function statusServer(statusFor: (hit: number) => number): Promise<TestServer> {
  return startServer((req, res, hit) => {
    req.resume()
    const status = statusFor(hit)
    res.writeHead(status, {'content-type': 'application/json'})
    res.end(JSON.stringify({status}))
  })
}

/** Reads each request and never answers (no timer is left behind: close() ends every connection). */
export function hangingServer(): Promise<TestServer> {
  return startServer((req) => {
    req.resume()
  })
}
