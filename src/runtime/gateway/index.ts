// The gateway's one door: the server, the routing interface that traffic
// policies implement, and the paths the gateway keeps for itself.
export {Gateway, type ApiStatus, type GatewayApi, type GatewayLimits, type GatewayOptions, type ReplicaLoad} from './server.js'
export type {Router, RouteRequest} from './routing.js'
import {CONTROL_PATHS} from './control.js'

/** Paths the gateway serves itself, which no API's endpoint may take. */
export const reservedPaths = (): string[] => [...CONTROL_PATHS]
