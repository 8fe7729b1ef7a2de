import {BaseCommand} from '../cli/base-command.js'
import {configJsonSchema, SCHEMA_URL} from '../config/index.js'

export default class Schema extends BaseCommand {
  static override summary = 'Print the JSON Schema of mlserve.yaml, for editor completion and checking.'

  static override description = `Prints the JSON Schema (draft 2020-12) of the config file to stdout. Every file mlserve generates starts with
  # yaml-language-server: $schema=${SCHEMA_URL}
which editors with the YAML language server (VS Code's YAML extension, Neovim, JetBrains) use for completion, hover docs and checking as you type. To work offline or pin the schema to your mlserve version, save it next to your project and point the header at the file:
  mlserve schema > mlserve.schema.json
  # yaml-language-server: $schema=./mlserve.schema.json
Cortex fields that mlserve ignores are in the schema, marked deprecated.`

  static override examples = [
    {description: 'Save the schema next to mlserve.yaml.', command: '<%= config.bin %> schema > mlserve.schema.json'},
    {description: 'List the predictor fields.', command: "<%= config.bin %> schema | jq '.[\"$defs\"].RealtimeAPI.properties.predictor.properties | keys'"},
  ]

  async run(): Promise<object> {
    await this.parse(Schema)
    const schema = configJsonSchema()
    // The schema is the artifact: print it to stdout even without --json. Under
    // --json oclif prints the returned object itself, so it is not printed here.
    if (!this.jsonEnabled()) process.stdout.write(`${JSON.stringify(schema, null, 2)}\n`)
    return schema
  }
}
