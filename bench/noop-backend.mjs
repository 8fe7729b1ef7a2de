// A no-op JSON backend in its own process: listens on $PORT (or a free port),
// prints the port, and answers every request with {"ok":true}. It serves
// GET /healthz too, so mlserve can run it as a `command` replica.
import {createServer} from 'node:http'

const body = Buffer.from('{"ok":true}')
const server = createServer((req, res) => {
  req.resume()
  req.on('end', () => {
    res.writeHead(200, {'content-type': 'application/json', 'content-length': body.length})
    res.end(body)
  })
})
server.keepAliveTimeout = 65_000
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`${server.address().port}\n`)
})
process.on('SIGTERM', () => process.exit(0))
