// Deploying to Docker Swarm: the objects of a deploy (spec.ts, pure), deploy
// (deploy.ts), its status and its removal, the deploy record that client
// commands read, the gateway image and the autoscaler (gateway-image.ts,
// autoscaler*.ts). See docs/deploy.md, "Docker Swarm".
export {deploySwarm, gatewayPlanFor, choosePlacement, type DeployedService, type SwarmDeployOptions, type SwarmDeployResult} from './deploy.js'
export {swarmStatus, type SwarmServiceStatus, type SwarmStatus} from './status.js'
export {deleteSwarm, type SwarmDeleteResult} from './remove.js'
export {requireManager, swarmEngine, type SwarmEngine} from './engine.js'
export {deployRecordsDir, listDeployRecords, readDeployRecord, type DeployRecord} from './record.js'
export {DEPLOY_LABELS, projectName, swarmObjects, type SwarmObjects} from './spec.js'
export {ensureGatewayImage, DEFAULT_GATEWAY_BASE_IMAGE} from './gateway-image.js'
