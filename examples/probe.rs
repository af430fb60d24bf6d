// Scratch probe (not committed): times SQL over a Tallyfy export folder.
use okrflow::model::Location;
use std::time::Instant;
#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let ctx = okrflow::engine::new_session();
    if std::env::var("VIEW").is_ok() {
        ctx.state_ref()
            .write()
            .config_mut()
            .options_mut()
            .execution
            .parquet
            .schema_force_view_types = true;
    }
    let _l = okrflow::sources::tallyfy::loader::register(
        &ctx,
        "t",
        &Location::Local(args[1].clone().into()),
    )
    .await
    .unwrap();
    {
        use datafusion::arrow::datatypes::{DataType, Field, Schema};
        use datafusion::datasource::file_format::parquet::ParquetFormat;
        use datafusion::datasource::listing::{
            ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
        };
        use std::sync::Arc;
        let cols = okrflow::sources::tallyfy::PROCESS_COLUMNS;
        let schema = Arc::new(Schema::new(
            cols.iter()
                .map(|c| Field::new(*c, DataType::Utf8View, true))
                .collect::<Vec<_>>(),
        ));
        let mut urls = vec![];
        for e in std::fs::read_dir(&args[1]).unwrap() {
            let p = e.unwrap().path();
            if p.extension().map_or(false, |x| x == "parquet") {
                urls.push(ListingTableUrl::parse(p.to_str().unwrap()).unwrap());
            }
        }
        let options =
            ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
        let config = ListingTableConfig::new_with_multi_paths(urls)
            .with_listing_options(options)
            .with_schema(schema);
        let rows = ctx
            .read_table(Arc::new(ListingTable::try_new(config).unwrap()))
            .unwrap();
        let mut select: Vec<datafusion::prelude::Expr> = cols
            .iter()
            .map(|c| datafusion::prelude::ident(*c))
            .collect();
        select.push(datafusion::functions::core::expr_fn::input_file_name().alias("src_path"));
        ctx.register_table("rawv", rows.select(select).unwrap().into_view())
            .unwrap();
    }
    for sql in &args[2..] {
        let sql = &if let Some(f) = sql.strip_prefix('@') {
            std::fs::read_to_string(f).unwrap()
        } else {
            sql.clone()
        };
        let t = Instant::now();
        let df = ctx.sql(sql).await.unwrap();
        let b = df.collect().await.unwrap();
        let ms = t.elapsed().as_millis();
        if sql.starts_with("EXPLAIN") {
            println!(
                "{}",
                datafusion::arrow::util::pretty::pretty_format_batches(&b).unwrap()
            );
        } else {
            println!(
                "{ms} ms  {}  -> {:?}",
                &sql[..sql.len().min(120)],
                b.first()
                    .map(|b| b.column(0).clone())
                    .map(|c| format!("{:?}", c))
                    .unwrap_or_default()
                    .chars()
                    .take(80)
                    .collect::<String>()
            );
        }
    }
}
