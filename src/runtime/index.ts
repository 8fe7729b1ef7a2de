// The runtime's door: plan a project's run, start it (in this thread or on a
// worker thread of its own), and the one replica that load tests and tuning
// measure, with the CPU sets that give it cores of its own (cpus.ts, light
// too). Parts that must start fast use the runtime's light modules instead,
// which load neither the gateway nor a driver: defaults.ts (flag defaults),
// state.ts (the records `mlserve status` reads), interpreter.ts (which Python),
// and harness/index.ts (the harness's files and in-image contract, for images).
export {runtimeDefaults} from './defaults.js'
export {planRemoteGateway, planRuntime, type ApiPlan, type ConcurrencyOverrides, type Discovery, type GatewayPlan, type PlanOptions, type RemotePlan, type RuntimePlan} from './plan.js'
export {Runtime, type RuntimeHooks, type RuntimeStatus} from './runtime.js'
export {startRuntimeThread, type ThreadRuntime} from './thread-host.js'
export {startReplicaUnderTest, type ReplicaUnderTest, type ReplicaUnderTestOptions} from './replica-under-test.js'
export type {ApiStatus, ReplicaLoad} from './gateway/index.js'
export {availableCpus, formatCpuList, parseCpuList, pinnedArgv, pinProcess, splitCpus, type CpuSplit} from './cpus.js'
