import { MAX_BATCH_SIZE, MAX_LABEL_KEY_LENGTH, MAX_LABEL_VALUE_LENGTH, MAX_LABELS } from "../services/rating.service.js";

/**
 * The largest request body accepted: the largest valid recordUsageBatch, written as JSON, and no
 * more. Free text is counted at 3 bytes per UTF-16 code unit (the most UTF-8 needs for one; an
 * astral character is two units in four bytes), references at 2 bytes per character (printable
 * ASCII, where `"` and `\` are escaped). A client that writes non-ASCII as `\u` escapes (Python's
 * json.dumps by default) needs 6 bytes a character, and may have to split such a batch.
 */
const TEXT = 3;
const REFERENCE = 2;

/** `{"key":"…","value":"…"},` with a space after each separator, as pretty printers write. */
const LABEL_BYTES = 26 + TEXT * (MAX_LABEL_KEY_LENGTH + MAX_LABEL_VALUE_LENGTH);

/** The fields' names, quotes and separators, spaced, then each field at its longest. */
const EVENT_BYTES =
  130 +
  REFERENCE * 128 + // eventId
  16 + // accountId: a safe integer
  100 + // apiCode
  17 + // quantity: "1000000000.000000"
  9 + // outcome: "SUCCEEDED"
  40 + // occurredAt: RFC 3339 with nanoseconds and an offset
  REFERENCE * 128 + // clientId
  MAX_LABELS * LABEL_BYTES;

/** Room for the document, the variables' envelope and indentation. */
const ENVELOPE_BYTES = 64 * 1024;

export const BODY_LIMIT_BYTES = MAX_BATCH_SIZE * EVENT_BYTES + ENVELOPE_BYTES;

export const BODY_TOO_LARGE = `the request body is larger than ${BODY_LIMIT_BYTES} bytes, the size of the largest valid batch`;
export const NOT_JSON = "the request body is not valid JSON";
