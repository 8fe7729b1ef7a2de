// `mlserve login`: the engine checks the credentials against the registry
// (POST /auth, what `docker login` does), so a wrong password is said at
// login rather than at the first push; then they are stored (0600).
import type Docker from 'dockerode'
import {engineMessage} from '../docker/index.js'
import {registryHost} from '../environments/index.js'
import {mlserveError} from '../errors.js'
import {storeLogin, type RegistryAuth} from './credentials.js'
import {classifyFailure} from './failures.js'

/** Checks `auth` with the registry through the engine; MLS_REGISTRY_AUTH_FAILED or MLS_REGISTRY_UNREACHABLE when it fails. */
export async function checkLogin(docker: Docker, auth: RegistryAuth): Promise<{status: string}> {
  try {
    const answer = (await docker.checkAuth({username: auth.username, password: auth.password, serveraddress: auth.serveraddress})) as {Status?: string}
    return {status: answer?.Status ?? 'Login Succeeded'}
  } catch (error) {
    const detail = engineMessage(error)
    const kind = classifyFailure(detail)
    if (kind === 'auth') throw mlserveError('MLS_REGISTRY_AUTH_FAILED', {registry: registryHost(auth.serveraddress), username: auth.username, source: 'the command line', detail})
    if (kind === 'unreachable' || kind === 'transient') throw mlserveError('MLS_REGISTRY_UNREACHABLE', {registry: registryHost(auth.serveraddress), detail})
    throw error
  }
}

/** Checks the credentials, then stores them beside the environments; returns the file. */
export async function login(docker: Docker, auth: RegistryAuth): Promise<{status: string; file: string}> {
  const {status} = await checkLogin(docker, auth)
  return {status, file: storeLogin(auth)}
}
