// Microsoft's DTDLParser (the WebAssembly build published as @digicatapult/dtdl-parser) as one
// long-lived process, so that the .NET runtime and the parser's metamodel load once, not per case.
//
// Protocol, one JSON object per line both ways:
//   stdout, first:  {"ready": true, "parser": "DTDLParser, Version=...", "package": "1.1.83"}
//   stdin:          {"id": <any>, "documents": ["<JSON text>", ...]}   (one batch of DTDL documents)
//   stdout:         {"id": <any>, "accepted": true, "elements": <count>}
//               or  {"id": <any>, "accepted": false, "kind": "Parsing", "errors": [...]}
//               or  {"id": <any>, "accepted": false, "kind": "Resolution", "unresolved": [...]}
//               or  {"id": <any>, "accepted": false, "kind": "Crash", "message": "..."}
// A batch is handed to the parser as one JSON text: a single document as it is, several as one
// array of their elements (a document that is itself an array gives its items). The texts are
// joined as text, not re-serialised, so duplicate keys and number spellings reach the parser as
// written. A leading byte-order mark is removed first (the parser refuses one; editors save it).
// The package's parseDtdl prints to stdout, so the underlying parse function is called instead.
// Lines that the .NET runtime itself may print never start with {"id": and are told apart by that.

import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { getInterop } from '@digicatapult/dtdl-parser'

const packageJson = new URL('./node_modules/@digicatapult/dtdl-parser/package.json', import.meta.url)
const packageVersion = JSON.parse(readFileSync(packageJson, 'utf-8')).version

const stripBom = (text) => (text.charCodeAt(0) === 0xfeff ? text.slice(1) : text)

// The items of a document that is a JSON array, as text; the whole text for anything else.
const items = (text) => {
  const trimmed = text.trim()
  if (trimmed.startsWith('[') && trimmed.endsWith(']')) return trimmed.slice(1, -1).trim()
  return trimmed
}

const batchText = (documents) => {
  const texts = documents.map(stripBom)
  if (texts.length === 1) return texts[0]
  return `[${texts.map(items).filter((part) => part !== '').join(',')}]`
}

const verdict = (parser, id, documents) => {
  let output
  try {
    output = parser.parse(batchText(documents))
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    let detail
    try {
      detail = JSON.parse(message)
    } catch {
      return { id, accepted: false, kind: 'Crash', message }
    }
    if (detail.ExceptionKind === 'Resolution') {
      return { id, accepted: false, kind: 'Resolution', unresolved: detail.UndefinedIdentifiers ?? [] }
    }
    if (detail.ExceptionKind === 'Parsing') {
      const errors = (detail.Errors ?? []).map((e) => ({
        validationId: e.ValidationID,
        primaryId: e.PrimaryID,
        cause: e.Cause,
      }))
      return { id, accepted: false, kind: 'Parsing', errors }
    }
    return { id, accepted: false, kind: 'Crash', message }
  }
  return { id, accepted: true, elements: Object.keys(JSON.parse(output)).length }
}

const parser = await getInterop()
const write = (value) => process.stdout.write(`${JSON.stringify(value)}\n`)
write({ ready: true, parser: parser.parserVersion(), package: packageVersion })

for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  if (line.trim() === '') continue
  let request
  try {
    request = JSON.parse(line)
  } catch {
    write({ id: null, accepted: false, kind: 'Crash', message: 'the request line is not JSON' })
    continue
  }
  write(verdict(parser, request.id, request.documents ?? []))
}
