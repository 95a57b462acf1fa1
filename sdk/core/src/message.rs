/// One data-channel message, as the remote sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A binary message (`send`).
    Binary(Vec<u8>),
    /// A text message (`send_text`).
    Text(String),
}

impl Message {
    /// The message payload as bytes (UTF-8 for text).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Message::Binary(b) => b,
            Message::Text(s) => s.as_bytes(),
        }
    }

    /// The payload length in bytes.
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether this is a text message.
    pub fn is_text(&self) -> bool {
        matches!(self, Message::Text(_))
    }

    /// The payload, consuming the message.
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Message::Binary(b) => b,
            Message::Text(s) => s.into_bytes(),
        }
    }
}
