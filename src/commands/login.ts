import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../cli/base-command.js'
import {color} from '../cli/ui.js'
import {parseRegistry, registryHost} from '../environments/fields.js'
import {mlserveError} from '../errors.js'

export interface LoginResult {
  registry: string
  username: string
  /** The engine's answer, such as "Login Succeeded". */
  status: string
  /** Where the login was stored (mode 0600). */
  file: string
}

export default class Login extends BaseCommand {
  static override summary = 'Log in to a registry: check the credentials with it, then keep them for mlserve push.'

  static override description = `Reads the password from standard input (--password-stdin, docker login's convention, so it stays out of the shell's history), has the Docker engine check it against the registry, and stores the login in credentials.yaml beside environments.yaml in your config directory, with mode 0600; the password is kept in plain text there. A wrong password fails with MLS_REGISTRY_AUTH_FAILED, a registry that does not answer with MLS_REGISTRY_UNREACHABLE, and nothing is stored.

mlserve push takes credentials from MLSERVE_REGISTRY_USERNAME and MLSERVE_REGISTRY_PASSWORD when both are set, else from this login, else from Docker's config.json ($DOCKER_CONFIG or ~/.docker: plain auths entries only; credential helpers are not run). See docs/deploy.md.`

  static override examples = [
    {description: 'Log in to a registry on this machine.', command: 'echo "$REGISTRY_PASSWORD" | <%= config.bin %> login 127.0.0.1:5000 --username ci --password-stdin'},
  ]

  static override args = {
    registry: Args.string({description: 'The registry, HOST[:PORT], such as 127.0.0.1:5000 or registry.example.com.', required: true}),
  }

  static override flags = {
    username: Flags.string({char: 'u', description: 'The user name.', required: true}),
    'password-stdin': Flags.boolean({description: 'Read the password from standard input (required: mlserve never takes a password as a flag).', default: false}),
  }

  async run(): Promise<LoginResult> {
    const {args, flags} = await this.parse(Login)
    const registry = parseRegistry(args.registry)
    if (registry === undefined) throw mlserveError('MLS_INVALID_FLAG', {flag: 'REGISTRY', value: args.registry, expected: 'HOST[:PORT] without a scheme, such as 127.0.0.1:5000 or registry.example.com'})
    // Credentials belong to the host: a namespace given (registry.example.com/team) is dropped.
    const host = registryHost(registry)
    const password = flags['password-stdin'] ? await readStdin() : ''
    if (password === '') throw mlserveError('MLS_REGISTRY_NO_PASSWORD', {registry: host})
    const [{connectDocker}, {login}] = await Promise.all([import('../docker/index.js'), import('../registry/index.js')])
    const docker = await connectDocker()
    const {status, file} = await login(docker, {username: flags.username, password, serveraddress: host})
    this.say(`${color.green(status)}: ${flags.username} at ${host}.`)
    this.say(color.dim(`Stored in ${file} (mode 0600).`))
    return {registry: host, username: flags.username, status, file}
  }
}

/** Standard input to its end, without the trailing newline that `echo` adds (docker login trims it too). */
async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return ''
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8').replace(/[\r\n]+$/, '')
}
