//! The DDL the loopback Athena runs as Athena does: `CREATE DATABASE`, `DROP TABLE`, and
//! `CREATE EXTERNAL TABLE` over the loopback S3 server's files, partitioned (with projection)
//! or not (with the hidden columns emulated).

use super::FakeAthena;
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use std::sync::Arc;

/// The text between the first `open` after `from` in `sql` and the next `close`.
fn between<'a>(sql: &'a str, from: &str, open: &str, close: &str) -> Option<&'a str> {
    let rest = &sql[sql.find(from)? + from.len()..];
    let rest = &rest[rest.find(open)? + open.len()..];
    Some(&rest[..rest.find(close)?])
}

impl FakeAthena {
    /// `CREATE DATABASE`, `DROP TABLE` and `CREATE EXTERNAL TABLE` as Athena runs them; `None`
    /// for any other statement.
    pub(super) async fn ddl(&self, sql: &str) -> Option<Result<(), String>> {
        let upper = sql.trim_start().to_ascii_uppercase();
        if upper.starts_with("CREATE DATABASE") {
            let name = between(sql, "DATABASE", "`", "`")?;
            let catalog = self.ctx.catalog("datafusion").unwrap();
            if catalog.schema(name).is_none() {
                catalog
                    .register_schema(
                        name,
                        Arc::new(datafusion::catalog::MemorySchemaProvider::new()),
                    )
                    .unwrap();
            }
            return Some(Ok(()));
        }
        if upper.starts_with("DROP TABLE") {
            let name = between(sql, "TABLE", "`", "`")?;
            let _ = self.ctx.deregister_table(name);
            let _ = self.ctx.deregister_table(format!("{name}__files"));
            return Some(Ok(()));
        }
        if upper.starts_with("CREATE EXTERNAL TABLE") {
            return Some(self.external_table(sql).await);
        }
        None
    }

    /// A `CREATE EXTERNAL TABLE` of Parquet files under an `s3://` location: the declared
    /// columns, then the partition column; only the partitions the projection covers.
    async fn external_table(&self, sql: &str) -> Result<(), String> {
        use datafusion::datasource::file_format::parquet::ParquetFormat;
        use datafusion::datasource::listing::{
            ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
        };
        let bad = || format!("FAILED: cannot read the statement: {sql}");
        let name = between(sql, "TABLE", "`", "`").ok_or_else(bad)?;
        if !sql.contains("PARTITIONED BY") {
            return self.files_table(sql, name).await;
        }
        let body = between(sql, name, "(\n", "\n)\nPARTITIONED BY").ok_or_else(bad)?;
        let mut fields = Vec::new();
        for line in body.lines() {
            let mut words = line.trim().trim_end_matches(',').split(' ');
            let column = words.next().ok_or_else(bad)?.trim_matches('`');
            let data_type = match words.next().ok_or_else(bad)? {
                "string" => DataType::Utf8,
                "double" => DataType::Float64,
                "bigint" => DataType::Int64,
                "boolean" => DataType::Boolean,
                "date" => DataType::Date32,
                "timestamp" => DataType::Timestamp(TimeUnit::Millisecond, None),
                other => return Err(format!("FAILED: no type {other} here")),
            };
            fields.push(Field::new(column, data_type, true));
        }
        let partition = between(sql, "PARTITIONED BY", "`", "`").ok_or_else(bad)?;
        let location = between(sql, "LOCATION", "'", "'").ok_or_else(bad)?;
        let properties: std::collections::HashMap<&str, &str> =
            between(sql, "TBLPROPERTIES", "(\n", "\n)")
                .ok_or_else(bad)?
                .lines()
                .filter_map(|l| {
                    let (k, v) = l.trim().trim_end_matches(',').split_once("'='")?;
                    Some((k.trim_start_matches('\''), v.trim_end_matches('\'')))
                })
                .collect();
        // What Athena reads: the partitions the projection covers, at the template's place.
        let property = |k: &str| properties.get(k).copied();
        let template = format!("{location}{partition}=${{{partition}}}/");
        if property("storage.location.template") != Some(template.as_str()) {
            return Err(format!(
                "FAILED: storage.location.template is not {template}: Athena would read nothing"
            ));
        }
        let covered = match property(&format!("projection.{partition}.type")) {
            Some("enum") => {
                let values = property(&format!("projection.{partition}.values")).unwrap_or("");
                let list: Vec<String> = values.split(',').map(|v| format!("'{v}'")).collect();
                format!("\"{partition}\" IN ({})", list.join(", "))
            }
            Some("date") => {
                let format = property(&format!("projection.{partition}.format"));
                let range = property(&format!("projection.{partition}.range")).unwrap_or("");
                let (first, last) = range.split_once(',').ok_or_else(bad)?;
                if format != Some("yyyy-MM-dd") || first.len() != 10 {
                    return Err(format!("FAILED: date projection {format:?} {range}"));
                }
                let today = chrono::Utc::now().date_naive().to_string();
                let last = if last == "NOW" { today.as_str() } else { last };
                format!("\"{partition}\" >= '{first}' AND \"{partition}\" <= '{last}'")
            }
            other => {
                return Err(format!(
                    "HIVE_METASTORE_ERROR: projection of {partition} is {other:?}: \
                     the following partition columns are missing projection configuration: [{partition}]"
                ));
            }
        };
        let root = self.s3_root.lock().unwrap().clone().ok_or_else(bad)?;
        let dir = root.join(location.strip_prefix("s3://").ok_or_else(bad)?);
        std::fs::create_dir_all(&dir).unwrap();
        let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
            .with_file_extension(".parquet")
            .with_table_partition_cols(vec![(partition.to_string(), DataType::Utf8)]);
        let url =
            ListingTableUrl::parse(format!("{}/", dir.display())).map_err(|e| e.to_string())?;
        let config = ListingTableConfig::new(url)
            .with_listing_options(options)
            .with_schema(Arc::new(Schema::new(fields)));
        let table = ListingTable::try_new(config).map_err(|e| e.to_string())?;
        let files = format!("{name}__files");
        let _ = self.ctx.deregister_table(&files);
        self.ctx
            .register_table(&files, Arc::new(table))
            .map_err(|e| e.to_string())?;
        let view = self
            .ctx
            .sql(&format!("SELECT * FROM \"{files}\" WHERE {covered}"))
            .await
            .map_err(|e| e.to_string())?
            .into_view();
        let _ = self.ctx.deregister_table(name);
        self.ctx
            .register_table(name, view)
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}

impl FakeAthena {
    /// An unpartitioned `CREATE EXTERNAL TABLE` of string columns: every Parquet file under
    /// its `LOCATION` (below it too), each row with the pseudo-columns Athena adds, `"$path"`
    /// (the file's `s3://` URI) and `"$file_modified_time"` (the file's time), as this fake's
    /// own stand-in for Trino's hidden columns.
    async fn files_table(&self, sql: &str, name: &str) -> Result<(), String> {
        let bad = || format!("FAILED: cannot read the statement: {sql}");
        let body = between(sql, name, "(\n", "\n)\nSTORED AS PARQUET").ok_or_else(bad)?;
        let mut fields = Vec::new();
        for line in body.lines() {
            let (column, kind) = line
                .trim()
                .trim_end_matches(',')
                .split_once(' ')
                .ok_or_else(bad)?;
            if kind != "string" {
                return Err(format!(
                    "FAILED: {column} is {kind}: only string columns here"
                ));
            }
            fields.push(Field::new(column.trim_matches('`'), DataType::Utf8, true));
        }
        let schema = Schema::new(fields);
        let location = between(sql, "LOCATION", "'", "'").ok_or_else(bad)?;
        let root = self.s3_root.lock().unwrap().clone().ok_or_else(bad)?;
        let dir = root.join(location.strip_prefix("s3://").ok_or_else(bad)?);
        let mut files = Vec::new();
        let mut folders = vec![dir];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    folders.push(path);
                } else if path.extension().is_some_and(|e| e == "parquet") {
                    files.push(path);
                }
            }
        }
        files.sort();
        let mut parts = Vec::new();
        for (i, file) in files.iter().enumerate() {
            let part = format!("{name}__file{i}");
            let options = datafusion::prelude::ParquetReadOptions::default().schema(&schema);
            let _ = self.ctx.deregister_table(&part);
            self.ctx
                .register_parquet(&part, file.to_str().unwrap(), options)
                .await
                .map_err(|e| e.to_string())?;
            let modified: chrono::DateTime<chrono::Utc> =
                std::fs::metadata(file).unwrap().modified().unwrap().into();
            let key = file.strip_prefix(&root).unwrap().to_string_lossy();
            parts.push(format!(
                "SELECT *, 's3://{key}' AS \"$path\", \
                 CAST('{}' AS TIMESTAMP) AS \"$file_modified_time\" FROM \"{part}\"",
                modified.format("%Y-%m-%d %H:%M:%S%.f")
            ));
        }
        if parts.is_empty() {
            return Err(format!("FAILED: no Parquet file under {location} here"));
        }
        let view = self
            .ctx
            .sql(&parts.join(" UNION ALL "))
            .await
            .map_err(|e| e.to_string())?
            .into_view();
        let _ = self.ctx.deregister_table(name);
        self.ctx
            .register_table(name, view)
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}
