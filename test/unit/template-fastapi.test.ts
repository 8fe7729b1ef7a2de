// The fastapi template's workaround for uvicorn --workers N, which leaves
// Nagle's algorithm on (uvicorn#3149): run under the host's python3, on a
// listener made the way uvicorn's supervisor makes it (proto 0), the accepted
// connection has no TCP_NODELAY before the template's function runs, and has
// it after. Only that function is taken from app.py, so fastapi need not be
// installed.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {join} from 'node:path'
import {execa} from 'execa'
import {templatesRoot} from '../../src/scaffold/paths.js'

const probe = `
import ast, asyncio, socket, sys
source = open(sys.argv[1], encoding="utf-8").read()
fn = next(n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name == "_nodelay_for_every_tcp_socket")
ns = {}
exec("import asyncio.base_events, socket", ns)
exec(compile(ast.Module(body=[fn], type_ignores=[]), sys.argv[1], "exec"), ns)

async def accepted_nodelay():
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # proto 0, as uvicorn binds it for --workers
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    seen = asyncio.get_running_loop().create_future()
    class Report(asyncio.Protocol):
        def connection_made(self, transport):
            sock = transport.get_extra_info("socket")
            seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()
    server = await asyncio.get_running_loop().create_server(Report, sock=listener)
    client = socket.create_connection(listener.getsockname())
    value = await seen
    client.close()
    server.close()
    return value

before = asyncio.run(accepted_nodelay())
ns["_nodelay_for_every_tcp_socket"]()
after = asyncio.run(accepted_nodelay())
print(bool(before), bool(after))
`

test('fastapi template: accepted connections get TCP_NODELAY even on a listener bound with proto 0 (uvicorn --workers N)', async () => {
  const run = await execa('python3', ['-c', probe, join(templatesRoot(), 'fastapi', 'app.py')], {reject: false})
  assert.equal(run.exitCode, 0, run.stderr)
  assert.equal(run.stdout.trim(), 'False True', 'without the workaround Nagle stays on; with it, it is off')
})
