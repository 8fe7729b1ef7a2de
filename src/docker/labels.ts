// The one map of the labels mlserve puts on Docker objects. On containers the
// driver starts: managed and the owner's pid, host and start time (so a sweep
// tells a dead owner from a reused pid, and one machine's mlserve from
// another's on a shared engine), the API and the replica. On images `mlserve
// build` makes: the API, the predictor type, the port, and the OCI version
// and revision. On the gateway image (src/swarm/gateway-image.ts): managed,
// the OCI title, version and revision (the context's hash) and the Node
// version it carries.
export const LABELS = {
  managed: 'dev.mlserve.managed',
  ownerPid: 'dev.mlserve.owner-pid',
  ownerHost: 'dev.mlserve.owner-host',
  ownerStarted: 'dev.mlserve.owner-started',
  api: 'dev.mlserve.api',
  replica: 'dev.mlserve.replica',
  predictorType: 'dev.mlserve.predictor-type',
  port: 'dev.mlserve.port',
  nodeVersion: 'dev.mlserve.node-version',
  title: 'org.opencontainers.image.title',
  version: 'org.opencontainers.image.version',
  revision: 'org.opencontainers.image.revision',
} as const
