//! Rows of a view held in memory for one batch: read in one go, changed by the batch's events,
//! written back set-wise (one multi-row upsert and one multi-row delete per table).
//!
//! A batch first says which rows it may touch ([`Staged::want`]), then loads them
//! ([`Staged::load`]), folds its events into them, and [`Staged::flush`]es what changed. A
//! row the fold asks for but did not want is an error ([`ProjectionError::NotLoaded`]), never
//! a silently missed update.
//!
//! Statements are sent in chunks whose sizes are powers of two, so each table needs only a
//! handful of distinct statements, which the connection keeps prepared.

use crate::{ProjectionError, Tables};
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::Any;
use std::collections::{HashMap, HashSet};

/// A query under construction, for [`Row::bind`].
pub type Query<'q> = sqlx::query::Query<'q, Any, AnyArguments<'q>>;

/// The primary key of a row: its key columns' values, in order.
pub type Key = Vec<String>;

/// Largest chunk of rows or keys in one statement (well under both databases' limits on
/// bound parameters).
const CHUNK: usize = 256;

/// A table row that a batch can hold in memory. Declare one with [`view_row!`](crate::view_row).
pub trait Row: Clone + Send + Sync + 'static {
    /// The base name of its table.
    const TABLE: &'static str;
    /// Its columns, in the order [`Row::bind`] binds them.
    const COLUMNS: &'static [&'static str];
    /// The primary key's columns.
    const KEY: &'static [&'static str];
    /// Its key.
    fn key(&self) -> Key;
    /// Reads it from a row holding [`Row::COLUMNS`].
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error>;
    /// Binds its columns, in order.
    fn bind<'q>(&'q self, q: Query<'q>) -> Query<'q>;
}

/// Declares a view row: a struct with one public field per column, and its [`Row`] impl.
/// Key fields must be `String`s.
#[macro_export]
macro_rules! view_row {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident in $table:literal key ($($key:ident),+) {
            $($(#[$fmeta:meta])* $field:ident : $ty:ty),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        $vis struct $name {
            $($(#[$fmeta])* pub $field: $ty),+
        }

        impl $crate::rows::Row for $name {
            const TABLE: &'static str = $table;
            const COLUMNS: &'static [&'static str] = &[$(stringify!($field)),+];
            const KEY: &'static [&'static str] = &[$(stringify!($key)),+];
            fn key(&self) -> $crate::rows::Key {
                vec![$(self.$key.clone()),+]
            }
            fn from_row(row: &sqlx::any::AnyRow) -> Result<Self, sqlx::Error> {
                use sqlx::Row as _;
                Ok(Self {
                    $($field: row.try_get(stringify!($field))?),+
                })
            }
            fn bind<'q>(&'q self, q: $crate::rows::Query<'q>) -> $crate::rows::Query<'q> {
                q$(.bind(&self.$field))+
            }
        }
    };
}

/// What a batch knows of one key.
#[derive(Debug)]
enum Slot<R> {
    /// As read; unchanged.
    Clean(R),
    /// Changed or new: written at the flush.
    Dirty(R),
    /// Not in the table (or deleted by the batch): deleted at the flush if it was there.
    Absent { delete: bool },
}

/// The rows of one table that a batch works on.
#[derive(Debug)]
pub struct Staged<R: Row> {
    table: String,
    wanted: HashSet<Key>,
    slots: HashMap<Key, Slot<R>>,
}

impl<R: Row> Staged<R> {
    /// Nothing held yet, for the table of generation `tables`.
    pub fn new(tables: &Tables) -> Self {
        Self {
            table: tables.get(R::TABLE),
            wanted: HashSet::new(),
            slots: HashMap::new(),
        }
    }

    /// Asks for the row under `key` to be loaded (by the next [`Staged::load`]).
    pub fn want(&mut self, key: Key) {
        if !self.slots.contains_key(&key) {
            self.wanted.insert(key);
        }
    }

    /// Reads every wanted row not held yet, in chunks.
    pub async fn load(&mut self, tx: &mut sqlx::AnyConnection) -> Result<(), sqlx::Error> {
        let keys: Vec<Key> = self.wanted.drain().collect();
        let columns = R::COLUMNS.join(", ");
        for chunk in chunks(&keys) {
            let sql = format!(
                "SELECT {columns} FROM {} WHERE {}",
                self.table,
                key_in(R::KEY, chunk.len())
            );
            let mut q = sqlx::query(&sql);
            for key in chunk {
                for part in key {
                    q = q.bind(part);
                }
            }
            let found = q.fetch_all(&mut *tx).await?;
            for key in chunk {
                self.slots
                    .entry(key.clone())
                    .or_insert(Slot::Absent { delete: false });
            }
            for row in &found {
                let row = R::from_row(row)?;
                self.slots.insert(row.key(), Slot::Clean(row));
            }
        }
        Ok(())
    }

    /// Reads every row whose `column` is one of `values` (rows held already stay as they are),
    /// for changes that name rows by something other than their key; see [`Staged::matching`].
    pub async fn load_by(
        &mut self,
        tx: &mut sqlx::AnyConnection,
        column: &str,
        values: &[String],
    ) -> Result<(), sqlx::Error> {
        let columns = R::COLUMNS.join(", ");
        for chunk in chunks(values) {
            let sql = format!(
                "SELECT {columns} FROM {} WHERE {}",
                self.table,
                key_in(&[column], chunk.len())
            );
            let mut q = sqlx::query(&sql);
            for value in chunk {
                q = q.bind(value);
            }
            for row in q.fetch_all(&mut *tx).await? {
                let row = R::from_row(&row)?;
                self.slots.entry(row.key()).or_insert(Slot::Clean(row));
            }
        }
        Ok(())
    }

    /// The keys of the rows held that `pick` chooses (all of them, if the rows were loaded with
    /// [`Staged::load_by`] on what `pick` looks at).
    pub fn matching(&self, pick: impl Fn(&R) -> bool) -> Vec<Key> {
        self.slots
            .iter()
            .filter_map(|(key, slot)| match slot {
                Slot::Clean(r) | Slot::Dirty(r) if pick(r) => Some(key.clone()),
                _ => None,
            })
            .collect()
    }

    /// The row under `key`, if the table has it.
    pub fn get(&self, key: &Key) -> Result<Option<&R>, ProjectionError> {
        match self.slots.get(key) {
            Some(Slot::Clean(r) | Slot::Dirty(r)) => Ok(Some(r)),
            Some(Slot::Absent { .. }) => Ok(None),
            None => Err(self.not_loaded(key)),
        }
    }

    /// The row under `key` to change, if the table has it.
    pub fn get_mut(&mut self, key: &Key) -> Result<Option<&mut R>, ProjectionError> {
        let Some(slot) = self.slots.get_mut(key) else {
            return Err(not_loaded(&self.table, key));
        };
        if let Slot::Clean(r) = slot {
            *slot = Slot::Dirty(r.clone());
        }
        match slot {
            Slot::Dirty(r) => Ok(Some(r)),
            _ => Ok(None),
        }
    }

    /// Puts `row` in (replacing any row under its key).
    pub fn put(&mut self, row: R) {
        self.slots.insert(row.key(), Slot::Dirty(row));
    }

    /// Takes the row under `key` out, if there is one.
    pub fn remove(&mut self, key: &Key) -> Result<(), ProjectionError> {
        match self.slots.get_mut(key) {
            Some(slot) => {
                *slot = Slot::Absent { delete: true };
                Ok(())
            }
            None => Err(self.not_loaded(key)),
        }
    }

    fn not_loaded(&self, key: &Key) -> ProjectionError {
        not_loaded(&self.table, key)
    }

    /// Writes what the batch changed: deletes first, then one upsert per chunk of rows.
    pub async fn flush(self, tx: &mut sqlx::AnyConnection) -> Result<(), sqlx::Error> {
        let mut gone = Vec::new();
        let mut dirty = Vec::new();
        for (key, slot) in self.slots {
            match slot {
                Slot::Dirty(r) => dirty.push(r),
                Slot::Absent { delete: true } => gone.push(key),
                Slot::Clean(_) | Slot::Absent { delete: false } => {}
            }
        }
        for chunk in chunks(&gone) {
            let sql = format!(
                "DELETE FROM {} WHERE {}",
                self.table,
                key_in(R::KEY, chunk.len())
            );
            let mut q = sqlx::query(&sql);
            for part in chunk.iter().flatten() {
                q = q.bind(part);
            }
            q.execute(&mut *tx).await?;
        }
        for chunk in chunks(&dirty) {
            let sql = upsert::<R>(&self.table, chunk.len());
            let mut q = sqlx::query(&sql);
            for row in chunk {
                q = row.bind(q);
            }
            q.execute(&mut *tx).await?;
        }
        Ok(())
    }
}

fn not_loaded(table: &str, key: &Key) -> ProjectionError {
    ProjectionError::NotLoaded {
        table: table.to_string(),
        key: key.join("/"),
    }
}

/// `items` in chunks of the sizes [`chunk_len`] gives.
pub(crate) fn chunks<T>(items: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let (chunk, tail) = rest.split_at(chunk_len(rest.len()));
        rest = tail;
        Some(chunk)
    })
}

/// The size of the next chunk of `n` items: the largest power of two not above `n` or
/// [`CHUNK`], so that only a few distinct statements are ever made.
fn chunk_len(n: usize) -> usize {
    let n = n.min(CHUNK);
    1 << (usize::BITS - 1 - n.leading_zeros())
}

/// `$1, $2, …` placeholders for `rows` rows of `width` values each, from `$1`.
pub(crate) fn placeholders(rows: usize, width: usize) -> Vec<String> {
    (0..rows)
        .map(|r| {
            let row: Vec<String> = (1..=width).map(|c| format!("${}", r * width + c)).collect();
            row.join(", ")
        })
        .collect()
}

/// `k IN ($1, …)`, or `(a, b) IN (VALUES ($1, $2), …)` for a key of several columns.
fn key_in(key: &[&str], n: usize) -> String {
    let values = placeholders(n, key.len());
    if let [column] = key {
        format!("{column} IN ({})", values.join(", "))
    } else {
        format!("({}) IN (VALUES ({}))", key.join(", "), values.join("), ("))
    }
}

/// A multi-row `INSERT … ON CONFLICT (key) DO UPDATE` of `n` rows.
fn upsert<R: Row>(table: &str, n: usize) -> String {
    let values = placeholders(n, R::COLUMNS.len());
    let set: Vec<String> = R::COLUMNS
        .iter()
        .filter(|c| !R::KEY.contains(c))
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    let action = if set.is_empty() {
        "DO NOTHING".to_string()
    } else {
        format!("DO UPDATE SET {}", set.join(", "))
    };
    format!(
        "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT ({}) {action}",
        R::COLUMNS.join(", "),
        values.join("), ("),
        R::KEY.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::view_row! {
        struct Pair in "pairs" key (a, b) {
            a: String,
            b: String,
            n: i64,
        }
    }

    #[test]
    fn chunks_are_powers_of_two_up_to_the_limit() {
        let sizes: Vec<usize> = [1, 2, 3, 7, 8, 255, 256, 1000]
            .iter()
            .map(|&n| chunk_len(n))
            .collect();
        assert_eq!(sizes, [1, 2, 2, 4, 8, 128, 256, 256]);
    }

    #[test]
    fn a_composite_key_is_matched_as_a_row_value() {
        assert_eq!(
            key_in(&["a", "b"], 2),
            "(a, b) IN (VALUES ($1, $2), ($3, $4))"
        );
        assert_eq!(key_in(&["id"], 3), "id IN ($1, $2, $3)");
    }

    #[test]
    fn the_upsert_sets_every_column_but_the_key() {
        assert_eq!(
            upsert::<Pair>("pairs__g1", 2),
            "INSERT INTO pairs__g1 (a, b, n) VALUES ($1, $2, $3), ($4, $5, $6) \
             ON CONFLICT (a, b) DO UPDATE SET n = excluded.n"
        );
    }

    #[test]
    fn a_row_asked_for_but_not_wanted_is_an_error_not_a_miss() {
        let mut staged: Staged<Pair> = Staged::new(&Tables::generation(1));
        let key = vec!["x".to_string(), "y".to_string()];
        assert!(matches!(
            staged.get(&key),
            Err(ProjectionError::NotLoaded { .. })
        ));
        staged.put(Pair {
            a: "x".into(),
            b: "y".into(),
            n: 1,
        });
        assert_eq!(staged.get(&key).unwrap().map(|p| p.n), Some(1));
        staged.remove(&key).unwrap();
        assert_eq!(staged.get(&key).unwrap(), None);
    }
}
