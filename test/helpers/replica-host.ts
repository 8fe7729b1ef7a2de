// A stand-in for mlserve in tests that kill it: starts one process-driver
// replica from the spec given as JSON in argv[2], prints
// {"pid": process group, "origin": ...} on one line once it is ready, then
// waits to be killed. Run as `node --import tsx test/helpers/replica-host.ts SPEC`.
import {ProcessReplica} from '../../src/runtime/process-replica.js'
import type {ReplicaSpec} from '../../src/runtime/replica.js'

const spec = JSON.parse(process.argv[2] ?? '{}') as ReplicaSpec
const replica = new ProcessReplica(spec, {log: (line) => process.stderr.write(`${line}\n`)})
await replica.start()
const status = replica.status()
process.stdout.write(`${JSON.stringify({pid: status.pid, origin: status.origin})}\n`)
setInterval(() => {}, 60_000)
