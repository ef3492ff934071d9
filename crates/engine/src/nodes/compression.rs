//! Compression: zip an item's files into one archive, unzip an archive into an item per
//! file, gzip or gunzip a file. Archives come from anywhere, so unpacking is bounded: at
//! most so many entries and so many unpacked bytes (a zip bomb stops there), and entries'
//! names are only names (nothing is written to disk here).

use crate::binary::{SyncWriter, file_of, property_name};
use crate::node::{NodeContext, NodeResult, Outputs};
use crate::registry::NodeEntry;
use std::io::{Read, Write};
use switchyard_model::descriptor::{NodeDescriptor, NodeGroup, ParamSpec, Port};
use switchyard_model::error::{ErrorClass, ErrorCode, NodeError};
use switchyard_model::item::{BinaryData, Item, Paired};
use switchyard_model::value::{Object, Value};
use switchyard_model::workflow::MAIN;

pub const TYPE: &str = "compression";

/// This node type, as the registry holds it.
pub fn entry() -> NodeEntry {
    NodeEntry::new(descriptor(), |ctx| Box::pin(execute(ctx)))
}

pub fn descriptor() -> NodeDescriptor {
    let mut d = super::descriptor(
        TYPE,
        "Compression",
        "Zips an item's files into one archive, unzips an archive into an item per file (bounded in entries and \
         unpacked size), or gzips / gunzips a file.",
        NodeGroup::Data,
        "archive",
        vec![Port::main()],
        vec![
            ParamSpec::options(
                "operation",
                "Operation",
                &[
                    ("zip", "Zip the item's files"),
                    ("unzip", "Unzip an archive (an item per file)"),
                    ("gzip", "Gzip a file"),
                    ("gunzip", "Gunzip a file"),
                ],
                "zip",
            ),
            ParamSpec::string("binaryProperty", "File property")
                .default_value("data")
                .literal()
                .describe("The file to unpack or (g)zip. For zip: the files to put in, comma-separated; empty: all.")
                .placeholder("data"),
            ParamSpec::string("fileName", "Archive name").default_value("archive.zip").show_if("operation", &["zip"]),
            ParamSpec::string("outputProperty", "Archive property")
                .default_value("data")
                .literal()
                .show_if("operation", &["zip"]),
            ParamSpec::integer("maxEntries", "At most (files)", Some(1.0), Some(1_000_000.0))
                .default_value(10_000)
                .literal()
                .show_if("operation", &["unzip"]),
            ParamSpec::integer("maxMb", "Largest unpacked size (MiB)", Some(1.0), None)
                .default_value(1024)
                .literal()
                .describe("Unpacking stops with an error past it: an archive cannot fill the disk.")
                .show_if("operation", &["unzip", "gunzip"]),
        ],
    );
    d.per_item_calls = true;
    d
}

pub async fn execute(ctx: &mut NodeContext) -> NodeResult {
    let operation = ctx.choice("operation");
    let items = ctx.take_input(0).into_vec();
    let mut out = Outputs::new();
    for (index, item) in items.into_iter().enumerate() {
        ctx.check_cancelled()?;
        let result = match operation.as_str() {
            "unzip" => unzip(ctx, &item).await,
            "gzip" | "gunzip" => gzip(ctx, &item, operation == "gzip").await.map(|i| vec![i]),
            _ => zip(ctx, &item).await.map(|i| vec![i]),
        };
        match result {
            Ok(made) => out.extend(MAIN, made.into_iter().map(|i| i.reshaped_paired(Paired::item(index)))),
            Err(error) => ctx.item_failed(&mut out, item, index, error.with_item(index))?,
        }
    }
    Ok(out)
}

fn limit_bytes(ctx: &NodeContext) -> u64 {
    ctx.raw_param("maxMb").as_u64().unwrap_or(1024).max(1).saturating_mul(1024 * 1024)
}

fn too_big(name: &str, limit: u64) -> NodeError {
    NodeError::new(
        ErrorCode::ValueTooLarge,
        format!("{name} unpacks to more than {} MiB (the node's \"Largest unpacked size\")", limit / (1024 * 1024)),
    )
    .with_class(ErrorClass::Permanent)
}

/// Copies `from` into `to`, at most `limit` bytes (an error past it).
fn copy_bounded(from: &mut impl Read, to: &mut SyncWriter, limit: u64, name: &str) -> Result<u64, NodeError> {
    let mut buffer = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = from.read(&mut buffer).map_err(|e| {
            NodeError::new(ErrorCode::ConversionFailed, format!("{name} cannot be unpacked: {e}"))
                .with_class(ErrorClass::Permanent)
        })?;
        if n == 0 {
            return Ok(total);
        }
        total += n as u64;
        if total > limit {
            return Err(too_big(name, limit));
        }
        to.write_all(&buffer[..n]).map_err(|e| to.error_or(NodeError::new(ErrorCode::FileError, e.to_string())))?;
    }
}

async fn zip(ctx: &NodeContext, item: &Item) -> Result<Item, NodeError> {
    let wanted = ctx.raw_param("binaryProperty").as_str().unwrap_or("").to_string();
    let names: Vec<String> = wanted.split(',').map(str::trim).filter(|n| !n.is_empty()).map(str::to_string).collect();
    let mut files: Vec<BinaryData> = Vec::new();
    if names.is_empty() {
        files.extend(item.binary().into_iter().flat_map(|b| b.values().cloned()));
        if files.is_empty() {
            return Err(file_of(item, "data", "binaryProperty").expect_err("the item has no files"));
        }
    } else {
        for name in &names {
            files.push(file_of(item, name, "binaryProperty")?.clone());
        }
    }
    let sources: Vec<(String, std::path::PathBuf)> = files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let name = if f.file_name.is_empty() { format!("file-{}", i + 1) } else { f.file_name.clone() };
            ctx.services.blobs.path(f).map(|p| (name, p))
        })
        .collect::<Result<_, _>>()?;
    let archive = ctx.eval("fileName", item, 0)?.to_text();
    let archive = if archive.trim().is_empty() { "archive.zip".to_string() } else { archive.trim().to_string() };
    let blobs = ctx.services.blobs.clone();
    let handle = tokio::runtime::Handle::current();
    let name = archive.clone();
    let data = tokio::task::spawn_blocking(move || {
        let sink = blobs.sync_writer(handle)?;
        let mut zip = zip::ZipWriter::new_stream(sink);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        let mut used = std::collections::HashSet::new();
        for (entry, path) in sources {
            // Two files of one name get (2), (3)… rather than one hiding the other.
            let mut unique = entry.clone();
            let mut n = 1;
            while !used.insert(unique.clone()) {
                n += 1;
                unique = match entry.rsplit_once('.') {
                    Some((stem, ext)) => format!("{stem} ({n}).{ext}"),
                    None => format!("{entry} ({n})"),
                };
            }
            let failed =
                |e: &dyn std::fmt::Display| NodeError::new(ErrorCode::FileError, format!("cannot zip {unique}: {e}"));
            zip.start_file(unique.as_str(), options).map_err(|e| failed(&e))?;
            let mut source = std::fs::File::open(&path).map_err(|e| failed(&e))?;
            std::io::copy(&mut source, &mut zip).map_err(|e| failed(&e))?;
        }
        let sink = zip.finish().map_err(|e| NodeError::new(ErrorCode::FileError, format!("cannot zip: {e}")))?;
        sink.into_inner().finish(&name, Some("application/zip"))
    })
    .await
    .map_err(|e| NodeError::new(ErrorCode::Internal, e.to_string()))??;
    let property = property_name(ctx.raw_param("outputProperty"));
    let mut out = item.clone();
    out.set_file(property, data);
    Ok(out)
}

async fn unzip(ctx: &NodeContext, item: &Item) -> Result<Vec<Item>, NodeError> {
    let property = property_name(ctx.raw_param("binaryProperty"));
    let data = file_of(item, &property, "binaryProperty")?;
    let path = ctx.services.blobs.path(data)?;
    let name = crate::binary::display_name(data, &property);
    let max_entries = ctx.raw_param("maxEntries").as_u64().unwrap_or(10_000).max(1) as usize;
    let limit = limit_bytes(ctx);
    let blobs = ctx.services.blobs.clone();
    let handle = tokio::runtime::Handle::current();
    let cancel = ctx.cancel.clone();
    tokio::task::spawn_blocking(move || {
        let bad = |e: &dyn std::fmt::Display| {
            NodeError::new(ErrorCode::ConversionFailed, format!("{name} is not a readable zip archive: {e}"))
                .with_class(ErrorClass::Permanent)
        };
        let file = std::fs::File::open(&path).map_err(|e| bad(&e))?;
        let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|e| bad(&e))?;
        if archive.len() > max_entries {
            return Err(NodeError::new(
                ErrorCode::ValueTooLarge,
                format!("{name} holds {} entries, more than {max_entries} (the node's \"At most\")", archive.len()),
            )
            .with_class(ErrorClass::Permanent)
            .with_parameter("maxEntries"));
        }
        let mut out = Vec::new();
        let mut total = 0u64;
        for i in 0..archive.len() {
            if cancel.is_cancelled() {
                return Err(NodeError::new(ErrorCode::Cancelled, "the run was cancelled"));
            }
            let mut entry = archive.by_index(i).map_err(|e| bad(&e))?;
            if entry.is_dir() {
                continue;
            }
            // The name as stored, without a way out of a folder (../, a leading /).
            let inside = entry
                .enclosed_name()
                .map(|p| p.to_string_lossy().replace('\\', "/"))
                .unwrap_or_else(|| entry.name().rsplit(['/', '\\']).next().unwrap_or("file").to_string());
            let file_name = inside.rsplit('/').next().unwrap_or(&inside).to_string();
            let mut sink = blobs.sync_writer(handle.clone())?;
            let written = copy_bounded(&mut entry, &mut sink, limit - total.min(limit), &format!("{name} ({inside})"))
                .map_err(|e| if e.code == ErrorCode::ValueTooLarge { too_big(&name, limit) } else { e })?;
            total += written;
            let stored = sink.finish(&file_name, None)?;
            let mut json = Object::new();
            json.insert("fileName", Value::from(file_name.as_str()));
            json.insert("path", Value::from(inside.as_str()));
            json.insert("size", Value::from(written as i64));
            let mut unpacked = Item::new(Value::object(json));
            unpacked.set_file("data", stored);
            out.push(unpacked);
        }
        Ok(out)
    })
    .await
    .map_err(|e| NodeError::new(ErrorCode::Internal, e.to_string()))?
}

async fn gzip(ctx: &NodeContext, item: &Item, pack: bool) -> Result<Item, NodeError> {
    let property = property_name(ctx.raw_param("binaryProperty"));
    let data = file_of(item, &property, "binaryProperty")?.clone();
    let path = ctx.services.blobs.path(&data)?;
    let name = crate::binary::display_name(&data, &property);
    let limit = limit_bytes(ctx);
    let blobs = ctx.services.blobs.clone();
    let handle = tokio::runtime::Handle::current();
    let made = tokio::task::spawn_blocking(move || {
        let file =
            std::fs::File::open(&path).map_err(|e| NodeError::new(ErrorCode::FileError, format!("{name}: {e}")))?;
        let mut sink = blobs.sync_writer(handle)?;
        if pack {
            let mut encoder = flate2::write::GzEncoder::new(&mut sink, flate2::Compression::default());
            let mut reader = std::io::BufReader::new(file);
            std::io::copy(&mut reader, &mut encoder)
                .and_then(|_| encoder.finish().map(|_| ()))
                .map_err(|e| NodeError::new(ErrorCode::FileError, format!("cannot gzip {name}: {e}")))?;
            let file_name = format!("{}.gz", data.file_name);
            sink.finish(&file_name, Some("application/gzip"))
        } else {
            let mut decoder = flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file));
            copy_bounded(&mut decoder, &mut sink, limit, &name)?;
            let file_name = data.file_name.strip_suffix(".gz").unwrap_or(&data.file_name).to_string();
            sink.finish(&file_name, None)
        }
    })
    .await
    .map_err(|e| NodeError::new(ErrorCode::Internal, e.to_string()))??;
    let mut out = item.clone();
    out.set_file(property, made);
    Ok(out)
}
