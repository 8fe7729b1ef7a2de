// The registry: credentials (the environment, `mlserve login`'s store,
// Docker's config.json), the login check, and pushing an image with
// per-layer progress, retries and the bytes sent against those present.
export {dockerConfigAuths, dockerConfigFile, findRegistryAuth, registryAuth, SOURCE_NAMES, storedLogins, storeLogin, type CredentialSource, type RegistryAuth} from './credentials.js'
export {checkLogin, login} from './login.js'
export {DEFAULT_RETRY, pushImage, type PushOptions, type PushResult, type RetryPolicy} from './push.js'
export {PushTracker, type EngineEvent, type LayerPhase, type LayerState, type PushProgress} from './progress.js'
export {accountBytes, type ByteAccount, type LayerBytes} from './accounting.js'
export {classifyFailure, isRetryable, type FailureKind} from './failures.js'
export {fetchManifest, registryBaseUrl, type ManifestLayer} from './manifest.js'
