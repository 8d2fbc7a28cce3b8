//! Positions between floe's byte offsets and the protocol's lines and UTF-16 columns.

use lsp_types::{Position, Range};

/// Where each line of a text starts.
pub struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub fn new(text: &'a str) -> LineIndex<'a> {
        let starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        LineIndex { text, starts }
    }

    /// The position of a byte offset (clamped to the text, and back to a character's start).
    pub fn position(&self, offset: usize) -> Position {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let column = self.text[self.starts[line]..offset].encode_utf16().count();
        Position { line: line as u32, character: column as u32 }
    }

    pub fn range(&self, offset: usize, len: usize) -> Range {
        Range { start: self.position(offset), end: self.position(offset.saturating_add(len)) }
    }

    /// The byte offset of a position (a column past its line's end is its end).
    pub fn offset(&self, pos: Position) -> usize {
        let Some(&start) = self.starts.get(pos.line as usize) else { return self.text.len() };
        let line = self.line_text(pos.line as usize);
        let mut units = 0;
        for (i, c) in line.char_indices() {
            if units >= pos.character as usize {
                return start + i;
            }
            units += c.len_utf16();
        }
        start + line.len()
    }

    /// A line without its line break.
    pub fn line_text(&self, line: usize) -> &'a str {
        let Some(&start) = self.starts.get(line) else { return "" };
        let end = self.starts.get(line + 1).map_or(self.text.len(), |e| e - 1);
        self.text[start..end].trim_end_matches('\r')
    }

    /// The line and the byte column within it of a position.
    pub fn line_column(&self, pos: Position) -> (usize, usize) {
        let offset = self.offset(pos);
        let line = pos.line as usize;
        (line, offset - self.starts.get(line).copied().unwrap_or(offset))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_utf16_units() {
        let text = "a: é😀x\nb: 1\n";
        let index = LineIndex::new(text);
        let x = text.find('x').unwrap();
        assert_eq!(index.position(x), Position { line: 0, character: 6 });
        assert_eq!(index.offset(Position { line: 0, character: 6 }), x);
        assert_eq!(index.position(text.find('b').unwrap()), Position { line: 1, character: 0 });
        assert_eq!(index.offset(Position { line: 1, character: 99 }), text.len() - 1);
        assert_eq!(index.offset(Position { line: 9, character: 0 }), text.len());
        assert_eq!(index.line_column(Position { line: 1, character: 3 }), (1, 3));
    }
}
