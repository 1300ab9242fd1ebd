// The keys of what ringwire's own files call on a Connection and an Endpoint but
// users do not: module-private symbols (undici's kSocket style). This file is not
// exported from the package, so these members cannot be reached, and the shipped
// types show them only as symbol-keyed members nobody outside can name. What users
// call is in docs/embedding.md, with plain names.

// ---- Connection: what its endpoint, router, client and relay call ----
export const kSlot = Symbol('slot');
/** A connection's endpoint (ConnectionHost), for its writer. */
export const kHost = Symbol('host');
export const kHandler = Symbol('handler');
export const kOpened = Symbol('opened');
export const kInbound = Symbol('inbound');
export const kStart = Symbol('start');
export const kExpectHeader = Symbol('expectProxyHeader');
export const kExpectUpgrade = Symbol('expectUpgrade');
/** The stage before framing a connection is in (preamble.ts), and its deadline passing: for the sweep. */
export const kStage = Symbol('stage');
export const kStageExpired = Symbol('stageExpired');
export const kTlsAfterHeader = Symbol('tlsAfterHeader');
export const kSecured = Symbol('secured');
export const kEarlyError = Symbol('earlyError');
export const kFail = Symbol('fail');
export const kEvict = Symbol('evict');
export const kDrain = Symbol('drain');
export const kPair = Symbol('pair');
export const kFlush = Symbol('flush');
export const kFlushQueued = Symbol('flushQueued');
/** The deadline clocks (read-clocks.ts): fields of the connection itself. */
export const kLastActive = Symbol('lastActive');
export const kWaitStart = Symbol('waitStart');
export const kWindowStart = Symbol('windowStart');
export const kWindowBytes = Symbol('windowBytes');
export const kRxSeen = Symbol('rxSeen');
export const kLastProgress = Symbol('lastProgress');
export const kWriting = Symbol('writing');
export const kAwaitingInput = Symbol('awaitingInput');
export const kRestartWait = Symbol('restartWait');
export const kHandlerSince = Symbol('handlerSince');
export const kShrink = Symbol('shrink');
/** In the endpoint's ring holders (a connection that read or wrote since it last gave its rings back). */
export const kHoldsRings = Symbol('holdsRings');
export const kActive = Symbol('active');
export const kPeer = Symbol('peer');
export const kForward = Symbol('forward');
/** Where a connection is in its state tables (connection-state.ts): for the model-based test. */
export const kState = Symbol('state');
/** The span a connection's next read goes into (its read target's; a TLS socket's first, readInto()). */
export const kNextSpan = Symbol('nextSpan');
/** websocket framing: the connection's WebSocketSession once the upgrade opened it (null before, and with other framings). */
export const kSession = Symbol('session');
/** A WebSocket close frame in its place (WebSocketSession -> Connection). */
export const kCloseFrame = Symbol('closeFrame');

// ---- Connection: what its own parts call (delivery.ts, writer.ts, relay-link.ts) ----
// Reading, closing and the slot stay the connection's; its parts ask it through these.
export const kLife = Symbol('life');
export const kError = Symbol('error');
export const kTxBlocked = Symbol('txBlocked');
export const kConsume = Symbol('consume');
export const kUpdateReading = Symbol('updateReading');
export const kSettle = Symbol('settle');
export const kWhenDrained = Symbol('whenDrained');
export const kFinWhenFlushed = Symbol('finWhenFlushed');
export const kSocketClosed = Symbol('socketClosed');
export const kCloseSlot = Symbol('closeSlot');
export const kWaitsOnWrite = Symbol('waitsOnWrite');
export const kWrote = Symbol('wrote');
/** A reply of a frame (connection.send(), or the frame's own reply.send()): in its place, or at once. */
export const kReply = Symbol('reply');

// ---- Endpoint: what its connections (ConnectionHost), router (RouterHost) and clients (Dialer) call ----
export const kTakesFrames = Symbol('takesFrames');
export const kWritePath = Symbol('writePath');
export const kDelivering = Symbol('delivering');
export const kLimits = Symbol('limits');
export const kDial = Symbol('dial');
export const kMaxQueued = Symbol('maxQueued');
export const kReplyRefusal = Symbol('replyRefusal');
export const kConnectionOpened = Symbol('opened');
export const kIdentified = Symbol('identified');
export const kEnter = Symbol('enter');
export const kLeave = Symbol('leave');
export const kFlushNow = Symbol('flushNow');
export const kFlushLater = Symbol('flushLater');
export const kFanoutReady = Symbol('fanoutReady');
export const kFannedOut = Symbol('fannedOut');
export const kFanoutRun = Symbol('fanoutRun');
export const kFanoutShares = Symbol('fanoutShares');
export const kFanoutShare = Symbol('fanoutShare');
export const kEnterRead = Symbol('enterRead');
export const kLeaveRead = Symbol('leaveRead');
export const kInRead = Symbol('inRead');
export const kQueue = Symbol('queue');
export const kClientError = Symbol('clientError');
export const kClosed = Symbol('closed');
export const kHoldFin = Symbol('holdFin');
export const kReset = Symbol('reset');
export const kUnanswered = Symbol('unanswered');
