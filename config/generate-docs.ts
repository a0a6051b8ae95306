// Writes config/CONFIGURATION.md from config/schema.ts (npm run docs:config).
import fs from 'node:fs'
import path from 'node:path'
import { renderConfigDocs } from './schema'

export const DOCS_PATH = path.join(__dirname, '..', '..', 'config', 'CONFIGURATION.md')

if (require.main === module) {
  fs.writeFileSync(DOCS_PATH, renderConfigDocs())
  console.log(`wrote ${DOCS_PATH}`)
}
