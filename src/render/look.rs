//! How text looks on a terminal: color (ANSI SGR codes around cells that
//! are already escaped, so no process text can carry a code of its own) and
//! fitting a table to the terminal's width, truncating the longest cells
//! with a marker. Without a terminal, neither: pipes get plain, whole text.

use unicode_width::UnicodeWidthChar;

pub use crate::config::Look;

/// SGR codes used.
pub const BOLD: &str = "1";
pub const RED: &str = "31";
pub const GREEN: &str = "32";
pub const YELLOW: &str = "33";
pub const MAGENTA: &str = "35";
pub const CYAN: &str = "36";

/// `text` in SGR `code` when color is on.
pub fn paint(look: &Look, code: &str, text: &str) -> String {
    if look.color && !text.is_empty() {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// The truncation marker.
pub const MORE: char = '…';

/// `text` cut to at most `width` terminal cells, ending in `…` when cut.
pub fn truncate(text: &str, width: usize) -> String {
    if unicode_width::UnicodeWidthStr::width(text) <= width {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    if width > 0 {
        out.push(MORE);
    }
    out
}

/// Column widths shrunk to fit `total` cells (two-space gaps included):
/// the widest of the `flexible` columns gives up cells first, none below
/// `floor`. The rest keep their width; if that is still too wide, so be it.
pub fn fit(widths: &[usize], flexible: &[usize], total: usize, floor: usize) -> Vec<usize> {
    let mut w = widths.to_vec();
    let used = w.iter().rposition(|x| *x > 0).map_or(0, |i| i + 1);
    let sum = |w: &[usize]| w[..used].iter().sum::<usize>() + 2 * used.saturating_sub(1);
    while sum(&w) > total {
        let Some(&i) = flexible
            .iter()
            .filter(|i| **i < used && w[**i] > floor)
            .max_by_key(|i| w[**i])
        else {
            break;
        };
        let excess = sum(&w) - total;
        let second = flexible
            .iter()
            .filter(|j| **j < used && **j != i)
            .map(|j| w[*j])
            .max()
            .unwrap_or(0)
            .max(floor);
        // Down to the next widest at most, so wide columns share the cut.
        let cut = excess.min(w[i] - second).max(1).min(w[i] - floor);
        w[i] -= cut;
    }
    w
}

/// Column widths shrunk to fit `total` cells (two-space gaps included) by
/// narrowing columns in the order `give` lists them, each down to its floor
/// (a column may be listed again later with a lower floor) before the next
/// gives anything. If that is still too wide, so be it.
pub fn fit_in_order(widths: &[usize], give: &[(usize, usize)], total: usize) -> Vec<usize> {
    let mut w = widths.to_vec();
    let used = w.iter().rposition(|x| *x > 0).map_or(0, |i| i + 1);
    let sum = |w: &[usize]| w[..used].iter().sum::<usize>() + 2 * used.saturating_sub(1);
    for &(i, floor) in give {
        let excess = sum(&w).saturating_sub(total);
        if excess == 0 {
            break;
        }
        if let Some(x) = w.get_mut(i).filter(|_| i < used) {
            *x -= excess.min(x.saturating_sub(floor));
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_by_display_width() {
        assert_eq!(truncate("python3", 10), "python3");
        assert_eq!(truncate("python3 -m http.server", 10), "python3 -…");
        assert_eq!(truncate("日本語テキスト", 7), "日本語…");
        assert_eq!(truncate("abc", 0), "");
    }

    #[test]
    fn fit_shrinks_the_widest_flexible_columns() {
        // 5 + 2 + 30 + 2 + 20 = 59 cells into 40.
        assert_eq!(fit(&[5, 30, 20], &[1, 2], 40, 6), vec![5, 16, 15]);
        assert_eq!(fit(&[5, 30, 20], &[1, 2], 80, 6), vec![5, 30, 20]);
        // Cannot go below the floor.
        assert_eq!(fit(&[5, 30, 20], &[1, 2], 10, 6), vec![5, 6, 6]);
    }

    #[test]
    fn fit_in_order_takes_from_the_first_listed_column_first() {
        // 5 + 2 + 30 + 2 + 20 = 59 cells into 50: all from column 2.
        assert_eq!(
            fit_in_order(&[5, 30, 20], &[(2, 6), (1, 6)], 50),
            vec![5, 30, 11]
        );
        // Into 30: column 2 down to its floor, then column 1.
        assert_eq!(
            fit_in_order(&[5, 30, 20], &[(2, 6), (1, 6)], 30),
            vec![5, 15, 6]
        );
        // A second, lower floor is used only when the first round is not enough.
        let give = [(2, 10), (1, 10), (2, 3)];
        assert_eq!(fit_in_order(&[5, 30, 20], &give, 20), vec![5, 10, 3]);
        assert_eq!(fit_in_order(&[5, 30, 20], &give, 100), vec![5, 30, 20]);
    }

    #[test]
    fn color_only_when_on() {
        let on = Look {
            color: true,
            width: None,
        };
        let off = Look::default();
        assert_eq!(paint(&on, RED, "x"), "\x1b[31mx\x1b[0m");
        assert_eq!(paint(&off, RED, "x"), "x");
    }
}
