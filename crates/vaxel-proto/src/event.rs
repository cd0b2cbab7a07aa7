//! Platform → daemon: `hello` and the events of docs/protocol.md, decoded with precise errors
//! (the daemon) and encoded (the load generator).

use crate::error::{ProtoError, ProtoErrorKind, shorten};
use crate::json::{Fields, Key, Writer, bad, key};
use bytes::BufMut;
use serde_json::{Map, Value};
use std::borrow::Cow;
use vaxel_core::site::Text;
use vaxel_core::{CallId, Input, Timestamp};

/// Longest id (`call`, `agent`, `platform`, `group`, …), dialed or calling number, `lang`,
/// `case_type` and `digits`, in bytes.
pub const MAX_ID: usize = 256;
/// Longest free text (`reason`, `note`, `token`), in bytes.
pub const MAX_TEXT: usize = 1024;

/// `call.arrived`'s `attrs`: whatever JSON object the platform attached (SIP headers, CRM
/// ids). Kept as sent; the engine does not route on it.
pub type Attrs = Map<String, Value>;

macro_rules! event_kinds {
    ($($variant:ident = $name:literal,)*) => {
        /// The `ev` of a platform message.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum EventKind {
            $($variant,)*
        }

        impl EventKind {
            /// Every event, in docs/protocol.md's order (`hello` first; the extension
            /// `agent.wrapup_until` after `agent.wrapup_done`).
            pub const ALL: [EventKind; [$($name),*].len()] = [$(EventKind::$variant),*];

            /// The wire name (`call.arrived`).
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self {
                    $(EventKind::$variant => $name,)*
                }
            }

            /// Parses the wire name.
            #[must_use]
            pub fn parse(s: &str) -> Option<EventKind> {
                match s {
                    $($name => Some(EventKind::$variant),)*
                    _ => None,
                }
            }

            /// `{"ev":"call.arrived"`: the start of the encoded line.
            fn head(self) -> &'static str {
                match self {
                    $(EventKind::$variant => concat!("{\"ev\":\"", $name, "\""),)*
                }
            }
        }
    };
}

event_kinds! {
    Hello = "hello",
    CallArrived = "call.arrived",
    CallDigits = "call.digits",
    CallAnswered = "call.answered",
    CallNoAnswer = "call.noanswer",
    CallHangup = "call.hangup",
    CallTransfer = "call.transfer",
    CallPark = "call.park",
    CallUnpark = "call.unpark",
    CallRequeue = "call.requeue",
    CallDisposition = "call.disposition",
    CallbackResult = "callback.result",
    AgentLogin = "agent.login",
    AgentReady = "agent.ready",
    AgentLogout = "agent.logout",
    AgentPause = "agent.pause",
    AgentWrapupDone = "agent.wrapup_done",
    AgentWrapupUntil = "agent.wrapup_until",
    Tick = "tick",
}

/// `callback.result`'s `outcome`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallbackOutcome {
    Connected,
    Failed,
}

impl CallbackOutcome {
    /// The wire spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            CallbackOutcome::Connected => "connected",
            CallbackOutcome::Failed => "failed",
        }
    }
}

/// `hello`: the first line of every connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    /// The platform instance; calls belong to it across reconnections.
    pub platform: Text,
    /// Absent only where the server runs without platform tokens.
    pub token: Option<Text>,
    /// Protocol version asked for ([`PROTOCOL_VERSION`](crate::PROTOCOL_VERSION) = 1).
    pub protocol: u64,
}

/// One platform message, without its envelope (`seq`, `at`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Hello(Hello),
    CallArrived {
        call: CallId,
        /// The dialed number.
        to: Text,
        /// The caller's number; empty when withheld.
        from: Text,
        /// IVR choices already collected, comma-separated per menu level.
        digits: Option<String>,
        lang: Option<Text>,
        attrs: Option<Attrs>,
    },
    /// Empty `digits` = no input (timeout).
    CallDigits {
        call: CallId,
        digits: String,
    },
    CallAnswered {
        call: CallId,
        agent: Text,
    },
    CallNoAnswer {
        call: CallId,
        agent: Text,
    },
    CallHangup {
        call: CallId,
        reason: Option<Text>,
    },
    /// `to` is `group:ID`, `agent:ID` or `number:NUMBER` (checked here).
    CallTransfer {
        call: CallId,
        agent: Text,
        to: Text,
        priority: Option<i32>,
    },
    CallPark {
        call: CallId,
        agent: Text,
    },
    CallUnpark {
        call: CallId,
        agent: Text,
    },
    CallRequeue {
        call: CallId,
        agent: Text,
        group: Option<Text>,
        priority: Option<i32>,
    },
    CallDisposition {
        call: CallId,
        agent: Text,
        case_type: Text,
        resolved: bool,
    },
    /// `callback` is the id the `dial` carried (the original call's id).
    CallbackResult {
        callback: CallId,
        outcome: CallbackOutcome,
    },
    AgentLogin {
        agent: Text,
        extension: Option<Text>,
    },
    AgentReady {
        agent: Text,
    },
    AgentLogout {
        agent: Text,
    },
    AgentPause {
        agent: Text,
        reason: Option<Text>,
        note: Option<Text>,
        until: Option<Timestamp>,
    },
    AgentWrapupDone {
        agent: Text,
    },
    /// Project extension: when the agent's after-call work ends (the current one, or the
    /// one to come when sent during a call), earlier or later than the group's `wrapup_s`.
    AgentWrapupUntil {
        agent: Text,
        until: Timestamp,
    },
    /// Time passes (event clock); the message's `at` is required.
    Tick,
}

/// One line from the platform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlatformMessage {
    /// Asks for an `ok`/`error` answer carrying it.
    pub seq: Option<u64>,
    /// Milliseconds since the Unix epoch: logged (live clock) or the engine's time (event
    /// clock).
    pub at: Option<Timestamp>,
    pub body: Event,
}

impl Event {
    /// Which event this is.
    #[must_use]
    pub fn kind(&self) -> EventKind {
        match self {
            Event::Hello(_) => EventKind::Hello,
            Event::CallArrived { .. } => EventKind::CallArrived,
            Event::CallDigits { .. } => EventKind::CallDigits,
            Event::CallAnswered { .. } => EventKind::CallAnswered,
            Event::CallNoAnswer { .. } => EventKind::CallNoAnswer,
            Event::CallHangup { .. } => EventKind::CallHangup,
            Event::CallTransfer { .. } => EventKind::CallTransfer,
            Event::CallPark { .. } => EventKind::CallPark,
            Event::CallUnpark { .. } => EventKind::CallUnpark,
            Event::CallRequeue { .. } => EventKind::CallRequeue,
            Event::CallDisposition { .. } => EventKind::CallDisposition,
            Event::CallbackResult { .. } => EventKind::CallbackResult,
            Event::AgentLogin { .. } => EventKind::AgentLogin,
            Event::AgentReady { .. } => EventKind::AgentReady,
            Event::AgentLogout { .. } => EventKind::AgentLogout,
            Event::AgentPause { .. } => EventKind::AgentPause,
            Event::AgentWrapupDone { .. } => EventKind::AgentWrapupDone,
            Event::AgentWrapupUntil { .. } => EventKind::AgentWrapupUntil,
            Event::Tick => EventKind::Tick,
        }
    }

    /// The call (or callback) the event is about, if any.
    #[must_use]
    pub fn call(&self) -> Option<&CallId> {
        match self {
            Event::CallArrived { call, .. }
            | Event::CallDigits { call, .. }
            | Event::CallAnswered { call, .. }
            | Event::CallNoAnswer { call, .. }
            | Event::CallHangup { call, .. }
            | Event::CallTransfer { call, .. }
            | Event::CallPark { call, .. }
            | Event::CallUnpark { call, .. }
            | Event::CallRequeue { call, .. }
            | Event::CallDisposition { call, .. } => Some(call),
            Event::CallbackResult { callback, .. } => Some(callback),
            _ => None,
        }
    }

    /// The event a platform sends for `input`: the inverse of
    /// [`into_input`](Self::into_input). `None` for inputs no platform sends (crisis
    /// switches, reloads and lost platforms come from the daemon itself). A driver that
    /// knows the engine inputs it wants (`vaxel load --exact`) sends them this way.
    #[must_use]
    pub fn from_input(input: &Input) -> Option<Event> {
        Some(match input.clone() {
            Input::CallArrived {
                call,
                to,
                from,
                digits,
                lang,
                platform: _,
            } => Event::CallArrived {
                call,
                to,
                from,
                digits,
                lang,
                attrs: None,
            },
            Input::CallDigits { call, digits } => Event::CallDigits { call, digits },
            Input::CallAnswered { call, agent } => Event::CallAnswered { call, agent },
            Input::CallNoAnswer { call, agent } => Event::CallNoAnswer { call, agent },
            Input::CallHangup { call, reason } => Event::CallHangup { call, reason },
            Input::CallTransfer {
                call,
                agent,
                to,
                priority,
            } => Event::CallTransfer {
                call,
                agent,
                to,
                priority,
            },
            Input::CallPark { call, agent } => Event::CallPark { call, agent },
            Input::CallUnpark { call, agent } => Event::CallUnpark { call, agent },
            Input::CallRequeue {
                call,
                agent,
                group,
                priority,
            } => Event::CallRequeue {
                call,
                agent,
                group,
                priority,
            },
            Input::CallDisposition {
                call,
                agent,
                case_type,
                resolved,
            } => Event::CallDisposition {
                call,
                agent,
                case_type,
                resolved,
            },
            Input::CallbackResult {
                callback,
                connected,
            } => Event::CallbackResult {
                callback,
                outcome: if connected {
                    CallbackOutcome::Connected
                } else {
                    CallbackOutcome::Failed
                },
            },
            Input::AgentLogin { agent, extension } => Event::AgentLogin { agent, extension },
            Input::AgentReady { agent } => Event::AgentReady { agent },
            Input::AgentLogout { agent } => Event::AgentLogout { agent },
            Input::AgentPause {
                agent,
                reason,
                note,
                until,
            } => Event::AgentPause {
                agent,
                reason,
                note,
                until,
            },
            Input::AgentWrapupDone { agent } => Event::AgentWrapupDone { agent },
            Input::AgentWrapupUntil { agent, until } => Event::AgentWrapupUntil { agent, until },
            Input::Tick => Event::Tick,
            Input::Crisis { .. } | Input::PlatformLost { .. } | Input::Reload(_) => return None,
        })
    }

    /// The engine input, `None` for `hello` (the daemon's own business). `platform` is the
    /// id the connection said `hello` with; it owns the calls it announces.
    #[must_use]
    pub fn into_input(self, platform: &Text) -> Option<Input> {
        Some(match self {
            Event::Hello(_) => return None,
            Event::CallArrived {
                call,
                to,
                from,
                digits,
                lang,
                attrs: _,
            } => Input::CallArrived {
                call,
                platform: platform.clone(),
                to,
                from,
                digits: digits.filter(|d| !d.is_empty()),
                lang,
            },
            Event::CallDigits { call, digits } => Input::CallDigits { call, digits },
            Event::CallAnswered { call, agent } => Input::CallAnswered { call, agent },
            Event::CallNoAnswer { call, agent } => Input::CallNoAnswer { call, agent },
            Event::CallHangup { call, reason } => Input::CallHangup { call, reason },
            Event::CallTransfer {
                call,
                agent,
                to,
                priority,
            } => Input::CallTransfer {
                call,
                agent,
                to,
                priority,
            },
            Event::CallPark { call, agent } => Input::CallPark { call, agent },
            Event::CallUnpark { call, agent } => Input::CallUnpark { call, agent },
            Event::CallRequeue {
                call,
                agent,
                group,
                priority,
            } => Input::CallRequeue {
                call,
                agent,
                group,
                priority,
            },
            Event::CallDisposition {
                call,
                agent,
                case_type,
                resolved,
            } => Input::CallDisposition {
                call,
                agent,
                case_type,
                resolved,
            },
            Event::CallbackResult { callback, outcome } => Input::CallbackResult {
                callback,
                connected: outcome == CallbackOutcome::Connected,
            },
            Event::AgentLogin { agent, extension } => Input::AgentLogin { agent, extension },
            Event::AgentReady { agent } => Input::AgentReady { agent },
            Event::AgentLogout { agent } => Input::AgentLogout { agent },
            Event::AgentPause {
                agent,
                reason,
                note,
                until,
            } => Input::AgentPause {
                agent,
                reason,
                note,
                until,
            },
            Event::AgentWrapupDone { agent } => Input::AgentWrapupDone { agent },
            Event::AgentWrapupUntil { agent, until } => Input::AgentWrapupUntil { agent, until },
            Event::Tick => Input::Tick,
        })
    }
}

// ---------------------------------------------------------------- decoding

/// Decodes one line (without its `\n`) from the platform. Checks UTF-8 first; a line from
/// the [`Framer`](crate::Framer) is already checked: use [`decode_platform_str`].
pub fn decode_platform(line: &[u8]) -> Result<PlatformMessage, ProtoError> {
    let text = std::str::from_utf8(line).map_err(|e| {
        ProtoError::new(ProtoErrorKind::InvalidUtf8 {
            at: e.valid_up_to(),
        })
    })?;
    decode_platform_str(text)
}

/// Decodes one line from the platform. The error carries the message's `seq` whenever it
/// could be read, even from a line that is otherwise broken. Unknown fields are ignored;
/// `null` in an optional field is the same as leaving it out. The first problem found is
/// reported: JSON, `seq`, `ev`, `at`, then the event's fields in docs/protocol.md's order.
pub fn decode_platform_str(line: &str) -> Result<PlatformMessage, ProtoError> {
    let (mut f, seq) = crate::json::open(line)?;
    let (at, body) = decode_event(&mut f).map_err(|kind| ProtoError { seq, kind })?;
    Ok(PlatformMessage { seq, at, body })
}

fn decode_event(f: &mut Fields<'_>) -> Result<(Option<Timestamp>, Event), ProtoErrorKind> {
    let ev = f.req_str(Key::Ev)?;
    let kind = EventKind::parse(&ev).ok_or_else(|| ProtoErrorKind::UnknownEvent(shorten(&ev)))?;
    f.kind = Some(kind.as_str());
    let at = f.opt_u64(Key::At)?.map(Timestamp);
    let event = match kind {
        EventKind::Hello => Event::Hello(Hello {
            platform: id(f, Key::Platform)?,
            token: opt_text(f, Key::Token)?,
            protocol: f.req_u64(Key::Protocol)?,
        }),
        EventKind::CallArrived => Event::CallArrived {
            call: id(f, Key::Call)?,
            to: id(f, Key::To)?,
            from: short(f, Key::From)?,
            digits: opt_digits(f)?,
            lang: opt_short(f, Key::Lang)?,
            attrs: f.opt_object(Key::Attrs)?,
        },
        EventKind::CallDigits => Event::CallDigits {
            call: id(f, Key::Call)?,
            digits: digits(f)?,
        },
        EventKind::CallAnswered => Event::CallAnswered {
            call: id(f, Key::Call)?,
            agent: id(f, Key::Agent)?,
        },
        EventKind::CallNoAnswer => Event::CallNoAnswer {
            call: id(f, Key::Call)?,
            agent: id(f, Key::Agent)?,
        },
        EventKind::CallHangup => Event::CallHangup {
            call: id(f, Key::Call)?,
            reason: opt_text(f, Key::Reason)?,
        },
        EventKind::CallTransfer => Event::CallTransfer {
            call: id(f, Key::Call)?,
            agent: id(f, Key::Agent)?,
            to: transfer_target(f)?,
            priority: f.opt_i32(Key::Priority)?,
        },
        EventKind::CallPark => Event::CallPark {
            call: id(f, Key::Call)?,
            agent: id(f, Key::Agent)?,
        },
        EventKind::CallUnpark => Event::CallUnpark {
            call: id(f, Key::Call)?,
            agent: id(f, Key::Agent)?,
        },
        EventKind::CallRequeue => Event::CallRequeue {
            call: id(f, Key::Call)?,
            agent: id(f, Key::Agent)?,
            group: opt_id(f, Key::Group)?,
            priority: f.opt_i32(Key::Priority)?,
        },
        EventKind::CallDisposition => Event::CallDisposition {
            call: id(f, Key::Call)?,
            agent: id(f, Key::Agent)?,
            case_type: id(f, Key::CaseType)?,
            resolved: f.req_bool(Key::Resolved)?,
        },
        EventKind::CallbackResult => Event::CallbackResult {
            callback: id(f, Key::Callback)?,
            outcome: match &*f.req_str(Key::Outcome)? {
                "connected" => CallbackOutcome::Connected,
                "failed" => CallbackOutcome::Failed,
                _ => {
                    return Err(bad(Key::Outcome, "expected \"connected\" or \"failed\""));
                }
            },
        },
        EventKind::AgentLogin => Event::AgentLogin {
            agent: id(f, Key::Agent)?,
            extension: opt_id(f, Key::Extension)?,
        },
        EventKind::AgentReady => Event::AgentReady {
            agent: id(f, Key::Agent)?,
        },
        EventKind::AgentLogout => Event::AgentLogout {
            agent: id(f, Key::Agent)?,
        },
        EventKind::AgentPause => Event::AgentPause {
            agent: id(f, Key::Agent)?,
            reason: opt_text(f, Key::Reason)?,
            note: opt_text(f, Key::Note)?,
            until: f.opt_u64(Key::Until)?.map(Timestamp),
        },
        EventKind::AgentWrapupDone => Event::AgentWrapupDone {
            agent: id(f, Key::Agent)?,
        },
        EventKind::AgentWrapupUntil => Event::AgentWrapupUntil {
            agent: id(f, Key::Agent)?,
            until: Timestamp(f.req_u64(Key::Until)?),
        },
        EventKind::Tick => {
            if at.is_none() {
                return Err(ProtoErrorKind::MissingField {
                    field: "at",
                    kind: f.kind,
                });
            }
            Event::Tick
        }
    };
    Ok((at, event))
}

/// At most [`MAX_ID`] bytes, no control characters; may be empty.
fn check_short(key: Key, s: &str) -> Result<(), ProtoErrorKind> {
    if s.len() > MAX_ID {
        return Err(bad(key, format!("longer than {MAX_ID} bytes")));
    }
    if s.chars().any(char::is_control) {
        return Err(bad(key, "contains a control character"));
    }
    Ok(())
}

/// An id: [`check_short`] and not empty.
fn check_id(key: Key, s: &str) -> Result<(), ProtoErrorKind> {
    if s.is_empty() {
        return Err(bad(key, "must not be empty"));
    }
    check_short(key, s)
}

fn id(f: &mut Fields<'_>, key: Key) -> Result<Text, ProtoErrorKind> {
    let s = f.req_str(key)?;
    check_id(key, &s)?;
    Ok(Text::from(&*s))
}

fn opt_id(f: &mut Fields<'_>, key: Key) -> Result<Option<Text>, ProtoErrorKind> {
    let Some(s) = f.opt_str(key)? else {
        return Ok(None);
    };
    check_id(key, &s)?;
    Ok(Some(Text::from(&*s)))
}

fn short(f: &mut Fields<'_>, key: Key) -> Result<Text, ProtoErrorKind> {
    let s = f.req_str(key)?;
    check_short(key, &s)?;
    Ok(Text::from(&*s))
}

fn opt_short(f: &mut Fields<'_>, key: Key) -> Result<Option<Text>, ProtoErrorKind> {
    let Some(s) = f.opt_str(key)? else {
        return Ok(None);
    };
    check_short(key, &s)?;
    Ok(Some(Text::from(&*s)))
}

/// Free text: any characters, at most [`MAX_TEXT`] bytes.
fn opt_text(f: &mut Fields<'_>, key: Key) -> Result<Option<Text>, ProtoErrorKind> {
    let Some(s) = f.opt_str(key)? else {
        return Ok(None);
    };
    if s.len() > MAX_TEXT {
        return Err(bad(key, format!("longer than {MAX_TEXT} bytes")));
    }
    Ok(Some(Text::from(&*s)))
}

/// DTMF digits: `0-9`, `*`, `#`, and `,` between menu levels; may be empty.
fn check_digits(s: &str) -> Result<(), ProtoErrorKind> {
    if s.len() > MAX_ID {
        return Err(bad(Key::Digits, format!("longer than {MAX_ID} bytes")));
    }
    match s
        .chars()
        .find(|c| !matches!(c, '0'..='9' | '*' | '#' | ','))
    {
        Some(c) => Err(bad(
            Key::Digits,
            format!("may contain only 0-9, *, # and commas, found {c:?}"),
        )),
        None => Ok(()),
    }
}

fn digits(f: &mut Fields<'_>) -> Result<String, ProtoErrorKind> {
    let s = f.req_str(Key::Digits)?;
    check_digits(&s)?;
    Ok(Cow::into_owned(s))
}

fn opt_digits(f: &mut Fields<'_>) -> Result<Option<String>, ProtoErrorKind> {
    let Some(s) = f.opt_str(Key::Digits)? else {
        return Ok(None);
    };
    check_digits(&s)?;
    Ok(Some(Cow::into_owned(s)))
}

/// `group:ID`, `agent:ID` or `number:NUMBER`.
fn transfer_target(f: &mut Fields<'_>) -> Result<Text, ProtoErrorKind> {
    let to = id(f, Key::To)?;
    let rest = ["group:", "agent:", "number:"]
        .iter()
        .find_map(|p| to.strip_prefix(p));
    match rest {
        Some(r) if !r.is_empty() => Ok(to),
        _ => Err(bad(
            Key::To,
            "expected `group:ID`, `agent:ID` or `number:NUMBER`",
        )),
    }
}

// ---------------------------------------------------------------- encoding

/// Appends `msg` as one JSON line (with `\n`): `ev` first, then `seq`, `at` and the fields
/// in docs/protocol.md's order; absent optional fields are left out.
pub fn encode_platform<B: BufMut + ?Sized>(msg: &PlatformMessage, buf: &mut B) {
    let mut w = Writer::start(buf, msg.body.kind().head());
    w.opt_u64(key!("seq"), msg.seq);
    w.opt_u64(key!("at"), msg.at.map(|t| t.0));
    match &msg.body {
        Event::Hello(h) => {
            w.str(key!("platform"), &h.platform);
            w.opt_str(key!("token"), h.token.as_deref());
            w.u64(key!("protocol"), h.protocol);
        }
        Event::CallArrived {
            call,
            to,
            from,
            digits,
            lang,
            attrs,
        } => {
            w.str(key!("call"), call);
            w.str(key!("to"), to);
            w.str(key!("from"), from);
            w.opt_str(key!("digits"), digits.as_deref());
            w.opt_str(key!("lang"), lang.as_deref());
            if let Some(attrs) = attrs {
                w.object(key!("attrs"), attrs);
            }
        }
        Event::CallDigits { call, digits } => {
            w.str(key!("call"), call);
            w.str(key!("digits"), digits);
        }
        Event::CallAnswered { call, agent }
        | Event::CallNoAnswer { call, agent }
        | Event::CallPark { call, agent }
        | Event::CallUnpark { call, agent } => {
            w.str(key!("call"), call);
            w.str(key!("agent"), agent);
        }
        Event::CallHangup { call, reason } => {
            w.str(key!("call"), call);
            w.opt_str(key!("reason"), reason.as_deref());
        }
        Event::CallTransfer {
            call,
            agent,
            to,
            priority,
        } => {
            w.str(key!("call"), call);
            w.str(key!("agent"), agent);
            w.str(key!("to"), to);
            if let Some(p) = priority {
                w.i64(key!("priority"), i64::from(*p));
            }
        }
        Event::CallRequeue {
            call,
            agent,
            group,
            priority,
        } => {
            w.str(key!("call"), call);
            w.str(key!("agent"), agent);
            w.opt_str(key!("group"), group.as_deref());
            if let Some(p) = priority {
                w.i64(key!("priority"), i64::from(*p));
            }
        }
        Event::CallDisposition {
            call,
            agent,
            case_type,
            resolved,
        } => {
            w.str(key!("call"), call);
            w.str(key!("agent"), agent);
            w.str(key!("case_type"), case_type);
            w.bool(key!("resolved"), *resolved);
        }
        Event::CallbackResult { callback, outcome } => {
            w.str(key!("callback"), callback);
            w.str(key!("outcome"), outcome.as_str());
        }
        Event::AgentLogin { agent, extension } => {
            w.str(key!("agent"), agent);
            w.opt_str(key!("extension"), extension.as_deref());
        }
        Event::AgentReady { agent }
        | Event::AgentLogout { agent }
        | Event::AgentWrapupDone { agent } => {
            w.str(key!("agent"), agent);
        }
        Event::AgentPause {
            agent,
            reason,
            note,
            until,
        } => {
            w.str(key!("agent"), agent);
            w.opt_str(key!("reason"), reason.as_deref());
            w.opt_str(key!("note"), note.as_deref());
            w.opt_u64(key!("until"), until.map(|t| t.0));
        }
        Event::AgentWrapupUntil { agent, until } => {
            w.str(key!("agent"), agent);
            w.u64(key!("until"), until.0);
        }
        Event::Tick => {}
    }
    w.end();
}
