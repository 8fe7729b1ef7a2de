// Two reference proxies that bound what a Node gateway can reach, for
// bench/gateway-vs-haproxy.ts. Neither has admission control, timeouts or
// metrics; they are ceilings, not alternatives.
// - `http-undici`: node:http's server in front of an undici Pool through the raw
//   dispatch API, the same I/O layers as mlserve's gateway with none of its logic;
// - `tcp-pipe`: each client connection piped to its own upstream connection,
//   with no HTTP parsing at all.
// Usage: node bench/ceiling-proxies.mjs http-undici|tcp-pipe UPSTREAM_PORT PREDICT_PATH
// Prints the port it listens on.
import {createServer as createHttpServer} from 'node:http'
import {createServer as createTcpServer, connect} from 'node:net'
import {Pool} from 'undici'

const [kind, upstreamPort, predictPath = '/predict'] = process.argv.slice(2)
const upstream = `http://127.0.0.1:${upstreamPort}`

function httpUndici() {
  const pool = new Pool(upstream, {connections: 32, pipelining: 1})
  return createHttpServer({keepAliveTimeout: 65_000}, (req, res) => {
    const chunks = []
    req.on('data', (chunk) => chunks.push(chunk))
    req.on('end', () => {
      const response = []
      let status = 502
      let type = 'application/json'
      pool.dispatch(
        {path: predictPath, method: 'POST', headers: ['content-type', req.headers['content-type'] ?? 'application/json'], body: Buffer.concat(chunks)},
        {
          onRequestStart() {},
          onResponseStart(_controller, statusCode, headers) {
            status = statusCode
            type = headers['content-type'] ?? type
          },
          onResponseData(_controller, chunk) {
            response.push(chunk)
          },
          onResponseEnd() {
            const body = Buffer.concat(response)
            res.writeHead(status, {'content-type': type, 'content-length': String(body.length)})
            res.end(body)
          },
          onResponseError(_controller, error) {
            res.writeHead(502)
            res.end(String(error))
          },
        },
      )
    })
  })
}

function tcpPipe() {
  return createTcpServer((client) => {
    const server = connect(Number(upstreamPort), '127.0.0.1')
    client.setNoDelay(true)
    server.setNoDelay(true)
    client.pipe(server).pipe(client)
    client.on('error', () => server.destroy())
    server.on('error', () => client.destroy())
  })
}

const server = kind === 'tcp-pipe' ? tcpPipe() : httpUndici()
server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`))
process.on('SIGTERM', () => process.exit(0))
