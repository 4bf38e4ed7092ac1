//! Column output: a header and rows, each column as wide as its widest cell.

/// Renders `rows` under `header`, columns separated by two spaces, the last one not padded.
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let width = |cell: &str| cell.chars().count();
    let mut widths: Vec<usize> = header.iter().map(|h| width(h)).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(width(cell));
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            out.push_str(cell);
            if i < last {
                out.push_str(&" ".repeat(w - width(cell) + 2));
            }
        }
        out.push('\n');
        out
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// Renders `fields` as `name: value` lines, the values aligned.
pub fn fields(fields: &[(&str, String)]) -> String {
    let w = fields
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    fields
        .iter()
        .map(|(k, v)| format!("{k}:{}{v}\n", " ".repeat(w - k.chars().count() + 1)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_as_wide_as_their_widest_cell() {
        let rows = vec![
            vec!["zoë".to_owned(), "connected".to_owned(), "1m".to_owned()],
            vec!["bartholomew".to_owned(), "-".to_owned(), "12s".to_owned()],
        ];
        assert_eq!(
            render(&["IDENTITY", "STATUS", "DURATION"], &rows),
            "IDENTITY     STATUS     DURATION\n\
             zoë          connected  1m\n\
             bartholomew  -          12s\n"
        );
        assert_eq!(render(&["SID"], &[]), "SID\n");
        assert_eq!(
            fields(&[("sid", "RM1".into()), ("status", "completed".into())]),
            "sid:    RM1\nstatus: completed\n"
        );
    }
}
