// Stand-ins for a Swarm service's tasks in the remote driver's unit tests: one
// HTTP server on every loopback address (0.0.0.0), which tells the tasks
// apart by the address a request reached (127.0.0.2, 127.0.0.3, …), as
// `tasks.<service>` gives one address per task on the same port. Each
// address's /healthz status can be changed, or made to hang; /predict answers
// with the address it reached after the payload's `sleepMs`.
import {createServer, type IncomingMessage, type ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'

export interface FakeTasks {
  port: number
  /** /healthz's status per task address (200 when not set), or 'hang': no answer at all. */
  health: Map<string, number | 'hang'>
  /** Requests each address received, by path. */
  hits: Map<string, number>
  close(): Promise<void>
}

const addressOf = (req: IncomingMessage): string => (req.socket.localAddress ?? '?').replace(/^::ffff:/, '')

export async function startFakeTasks(): Promise<FakeTasks> {
  const health = new Map<string, number | 'hang'>()
  const hits = new Map<string, number>()
  const hanging = new Set<ServerResponse>()
  const server = createServer((req, res) => {
    const address = addressOf(req)
    const path = req.url ?? '/'
    hits.set(`${address} ${path}`, (hits.get(`${address} ${path}`) ?? 0) + 1)
    if (path === '/healthz') {
      req.resume()
      const status = health.get(address) ?? 200
      if (status === 'hang') {
        hanging.add(res)
        return
      }
      res.writeHead(status, {'content-type': 'application/json'}).end(JSON.stringify({ready: status === 200}))
      return
    }
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      let sleepMs = 0
      try {
        sleepMs = Number((JSON.parse(Buffer.concat(chunks).toString() || '{}') as {sleepMs?: number}).sleepMs ?? 0)
      } catch {
        // not JSON: answer at once
      }
      setTimeout(() => res.writeHead(200, {'content-type': 'application/json'}).end(JSON.stringify({task: address})), sleepMs)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    health,
    hits,
    async close() {
      for (const res of hanging) res.destroy()
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

/** How many requests `address` received at `path`. */
export const hitsOf = (tasks: FakeTasks, address: string, path: string): number => tasks.hits.get(`${address} ${path}`) ?? 0
