// The gateway's one door: the server, the routing interface that traffic
// policies implement, and the paths the gateway keeps for itself.
export {Gateway, type ApiStatus, type GatewayApi, type GatewayLimits, type GatewayOptions, type GatewaySplitter, type ReplicaLoad} from './server.js'
export type {Router, RouteRequest} from './routing.js'
export type {ApiRoute} from './api-route.js'
export type {ReplicaRoute} from './replica-route.js'
export {ShadowMirror} from './shadow.js'
export {BATCH_SUFFIX, type BatchSettings} from './batch.js'
export type {SplitRouter} from './split.js'
export {formatWeights, weightProblem, type Weights} from './weights.js'
export type {ApiFigures, SplitterStatus, TrafficStatus} from './traffic-types.js'
import {CONTROL_PATHS} from './control.js'
import {APPLY_PATH, TRAFFIC_PATH} from './traffic-routes.js'

/** Paths the gateway serves itself, which no API's endpoint may take (nor any path under /traffic/). */
export const reservedPaths = (): string[] => [...CONTROL_PATHS, TRAFFIC_PATH, APPLY_PATH]
