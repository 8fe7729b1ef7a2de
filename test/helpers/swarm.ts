// Docker Swarm for tests that need one. These tests never skip: on a machine
// whose engine is not in a swarm (a fresh CI machine), requireSwarm() makes it
// a one-node swarm on loopback (`docker swarm init --advertise-addr
// 127.0.0.1`), and fails with the engine's reason if that does not work.
// Every service, config, secret and network a test makes carries this run's
// label (swarmTestLabels()), and cleanupSwarm() removes exactly those.
import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import type Docker from 'dockerode'
import {docker, requireDocker} from './docker.js'

/** The label every Swarm object a test makes carries; its value is this test process's run id. */
export const SWARM_TEST_LABEL = 'dev.mlserve.test-run'
const runId = `${process.pid}-${randomBytes(4).toString('hex')}`

/** The labels a test puts on each service, config, secret and network it creates. */
export function swarmTestLabels(): Record<string, string> {
  return {[SWARM_TEST_LABEL]: runId}
}

/** Resolves once this engine is a swarm manager, making it one (on 127.0.0.1) when it is in no swarm. */
export async function requireSwarm(): Promise<void> {
  await requireDocker()
  let info = (await docker.info()) as {Swarm?: {LocalNodeState?: string; ControlAvailable?: boolean; Error?: string}}
  if (info.Swarm?.LocalNodeState === 'inactive') {
    try {
      await docker.swarmInit({ListenAddr: '127.0.0.1:2377', AdvertiseAddr: '127.0.0.1', ForceNewCluster: false})
    } catch (error) {
      assert.fail(`The engine is in no swarm and \`docker swarm init --advertise-addr 127.0.0.1\` failed: ${(error as Error).message}. These tests need Swarm and never skip.`)
    }
    info = (await docker.info()) as typeof info
  }
  assert.equal(info.Swarm?.LocalNodeState, 'active', `The engine's swarm is ${info.Swarm?.LocalNodeState} (${info.Swarm?.Error ?? 'no error given'}); these tests need an active one.`)
  assert.equal(info.Swarm?.ControlAvailable, true, 'This engine is a swarm worker, not a manager: services can only be made on a manager.')
}

/** The tasks of a service that run now (desired and actual state running). */
export async function runningTasks(service: string): Promise<number> {
  const tasks = (await docker.listTasks({filters: {service: [service], 'desired-state': ['running']}})) as Array<{Status?: {State?: string}}>
  return tasks.filter((task) => task.Status?.State === 'running').length
}

/** Polls until `check` holds, or fails with what `describe` says of the last state. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, describe: () => Promise<string> | string): Promise<void> {
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    if (await check()) return
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  assert.fail(`timed out after ${timeoutMs / 1000} s: ${await describe()}`)
}

/**
 * Removes every service, then config, secret and network with this run's
 * label (or the given labels). A network is removed once the tasks that used
 * it are gone, so that removal is retried for a while.
 */
export async function cleanupSwarm(labels: Record<string, string> = swarmTestLabels()): Promise<void> {
  const filters = {label: Object.entries(labels).map(([key, value]) => `${key}=${value}`)}
  const ignoreMissing = (error: {statusCode?: number}) => {
    if (error.statusCode !== 404) throw error
  }
  for (const service of await docker.listServices({filters})) await docker.getService(service.ID).remove().catch(ignoreMissing)
  for (const config of (await docker.listConfigs({filters})) as Array<{ID: string}>) await docker.getConfig(config.ID).remove().catch(ignoreMissing)
  for (const secret of await docker.listSecrets({filters})) await docker.getSecret(secret.ID).remove().catch(ignoreMissing)
  const networks: Docker.NetworkInspectInfo[] = await docker.listNetworks({filters})
  for (const network of networks) {
    const until = Date.now() + 30_000
    for (;;) {
      try {
        await docker.getNetwork(network.Id).remove()
        break
      } catch (error) {
        const status = (error as {statusCode?: number}).statusCode
        if (status === 404) break
        // 403/409: tasks of a removed service still hold it for a moment.
        if (Date.now() > until) throw error
        await new Promise((resolve) => setTimeout(resolve, 500))
      }
    }
  }
}
