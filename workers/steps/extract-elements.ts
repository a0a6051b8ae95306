// Issue 15 rule 1: autocapture elements go to the `elements_chain` column,
// never into `properties`. `$elements_chain` (a string, current SDKs) is
// stored as sent; otherwise `$elements` (older SDKs) is turned into the chain
// as PostHog does (workers/elements-chain.ts). Both properties are removed,
// whichever was used. Follows PostHog's nodejs/src/worker/ingestion/process-event.ts
// (`getElementsChain`). An event with neither costs two property reads.
import type { Step } from '../context'
import { elementsChainOf } from '../elements-chain'
import { withoutMembers } from '../properties-text'
import { ok } from '../result'

const ELEMENT_PROPERTIES = ['$elements_chain', '$elements']

export const extractElements: Step = (event) => {
  const props = event.properties
  const chain = props.$elements_chain
  const elements = props.$elements
  if (chain === undefined && elements === undefined) return ok()
  // PostHog takes a truthy `$elements_chain` first, then a non-empty `$elements`
  if (chain) event.elementsChain = typeof chain === 'string' ? chain : ''
  else if (elements) event.elementsChain = elementsChainOf(elements)
  delete props.$elements_chain
  delete props.$elements
  if (event.propertiesText !== undefined) {
    event.propertiesText = withoutMembers(event.propertiesHead + event.propertiesText, ELEMENT_PROPERTIES)
    event.propertiesHead = ''
  }
  return ok()
}
