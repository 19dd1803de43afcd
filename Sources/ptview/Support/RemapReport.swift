import PTViewCore
import PTViewEdit
import PTViewJudge
import PTViewPipeline

/// What `ptview remap` prints: what moved, what was left alone and why, what was verified.
enum RemapReport {
  static func text(
    _ report: WriteReport, input: String, output: String, verb: String = "remap"
  ) -> String {
    let plan = report.plan.remap
    let edit = report.plan
    let rewrite = report.rewrite
    var lines: [String] = []
    lines.append("ptview \(verb): \(input) -> \(output)")
    if let root = edit.root { lines.append("  root   \(root)") }
    if !edit.derivedFlags.isEmpty {
      lines.append("  derived from the error: \(edit.derivedFlags.joined(separator: " "))")
    }
    if !edit.detectedPrefixes.isEmpty {
      lines.append("  prefix detected: \(edit.detectedPrefixes.joined(separator: ", "))")
    }
    if !edit.renamed.isEmpty {
      let shown = edit.renamed.prefix(3).map { "\($0.from) -> \($0.to)" }
      lines.append(
        "  renamed \(edit.renamed.count) key\(edit.renamed.count == 1 ? "" : "s"): "
          + shown.joined(separator: ", ") + (edit.renamed.count > 3 ? ", …" : ""))
    }
    for key in edit.dropped.prefix(20) { lines.append("  dropped \(key)") }
    if edit.dropped.count > 20 { lines.append("  dropped \(edit.dropped.count - 20) more") }
    if !edit.casts.isEmpty {
      var groups: [String: (Int, Int64)] = [:]
      var order: [String] = []
      for c in edit.casts {
        let k = "\(c.from.shortName) > \(c.to.shortName)"
        if groups[k] == nil { order.append(k) }
        groups[k, default: (0, 0)].0 += 1
        groups[k, default: (0, 0)].1 += c.bytes
      }
      for k in order {
        let (n, bytes) = groups[k]!
        lines.append(
          "  cast   \(k): \(n) storage\(n == 1 ? "" : "s") (\(Format.bytes(bytes)) before)")
      }
    }
    if !rewrite.omittedStorages.isEmpty {
      lines.append(
        "  left out \(rewrite.omittedStorages.count) storage\(rewrite.omittedStorages.count == 1 ? "" : "s") nothing uses any more (\(Format.bytes(edit.bytesDropped)))"
      )
    }
    if rewrite.omittedScriptRecords > 0 {
      lines.append(
        "  left out \(rewrite.omittedScriptRecords) TorchScript records (code, constants): the output is a plain torch.save file"
      )
    }
    var rows: [[String]] = []
    for s in plan.summary {
      rows.append([
        "  moved", "\(s.from) -> \(s.to)",
        "\(s.tensors) tensor\(s.tensors == 1 ? "" : "s") in \(s.storages) storage\(s.storages == 1 ? "" : "s")",
        Format.bytes(s.bytes),
      ])
    }
    for a in plan.deviceArguments {
      rows.append(["  moved", "\(a.from) -> \(a.to)", "\(a.key) (device argument)", ""])
    }
    if plan.moves.isEmpty && plan.deviceArguments.isEmpty && verb == "remap"
      && report.inPlace != .unchanged
    {
      lines.append(
        "  nothing matched the rules: no location changed (the file was still rewritten, normalised)"
      )
    }
    lines.append(
      Table.render(rows, rightAligned: [3]).split(separator: "\n").joined(separator: "\n"))
    var left: [String: (Int, String)] = [:]
    var leftOrder: [String] = []
    for item in plan.leftAlone {
      let k = item.device + "\u{0}" + item.reason
      if left[k] == nil { leftOrder.append(k) }
      left[k, default: (0, item.reason)].0 += 1
    }
    for k in leftOrder {
      let (n, reason) = left[k]!
      let device = String(k.split(separator: "\u{0}", maxSplits: 1).first ?? "")
      lines.append("  left   \(n) tensor\(n == 1 ? "" : "s") on \(device): \(reason)")
    }
    for s in plan.sharedWithUnselected {
      let names = s.others.prefix(5).joined(separator: ", ") + (s.others.count > 5 ? ", …" : "")
      lines.append("  shared \(s.record) moved with it: also read by \(names)")
    }
    for c in rewrite.codeRewrites {
      lines.append("  code   \(c.record): torch.device(\"\(c.from)\") -> \"\(c.to)\" (\(c.count)x)")
    }
    for c in rewrite.codeLeftAlone { lines.append("  code   \(c)") }
    for a in rewrite.addedRecords {
      lines.append("  added  \(a): torch.load requires it")
    }
    for d in rewrite.droppedRecords {
      lines.append("  dropped \(d): outside the root folder (torch.load refuses such records)")
    }
    let pickles = rewrite.rewrittenPickles.joined(separator: ", ")
    if !pickles.isEmpty {
      var protocolText = ""
      if let p = rewrite.inputProtocol ?? rewrite.inputHighestProtocol {
        protocolText =
          p == 2
          ? " (was protocol 2)"
          : " (was protocol \(p): it now also passes weights_only's opcode check)"
      }
      if rewrite.unsafeOpcodes.isEmpty {
        lines.append(
          "  pickle \(pickles) re-encoded at protocol 2 with weights_only opcodes only\(protocolText)"
        )
      } else {
        lines.append(
          "  pickle \(pickles) re-encoded at protocol 2\(protocolText); still needs \(rewrite.unsafeOpcodes.joined(separator: ", ")), which weights_only refuses"
        )
      }
    }
    switch report.inPlace {
    case .appended(let oldSize, let bytes)?:
      lines.append(
        "  verified \(report.verifiedTensors) tensors read back; \(report.verifiedRecords) records kept in place with their offsets and checksums"
      )
      lines.append(
        "appended \(Format.bytes(bytes)) to \(output) after byte \(oldSize) (now \(Format.bytes(report.outputSize)); `--in-place --compact` rewrites it without the superseded records)"
      )
    case .unchanged?:
      lines.append("\(output) needed no change; nothing written")
    default:
      if case .rewritten(let reason?)? = report.inPlace {
        lines.append("  rewritten whole, not appended: \(reason)")
      }
      lines.append(
        "  verified \(report.verifiedTensors) tensors read back; \(report.verifiedRecords) copied records keep the input's checksums"
      )
      let smaller =
        verb != "remap" && report.outputSize < report.inputSize
        ? "; \(Format.bytes(report.inputSize - report.outputSize)) smaller than the input" : ""
      lines.append("wrote \(output) (\(Format.bytes(report.outputSize))\(smaller))")
    }
    return lines.filter { !$0.isEmpty }.joined(separator: "\n") + "\n"
  }

  static func json(
    _ report: WriteReport, input: String, output: String, verb: String = "remap"
  ) -> String {
    let q = JSONWriter.quoted
    let plan = report.plan.remap
    let edit = report.plan
    var fields: [String] = []
    fields.append("\"input\": \(q(input))")
    fields.append("\"output\": \(q(output))")
    fields.append("\"output_size\": \(report.outputSize)")
    fields.append(
      "\"moves\": ["
        + plan.moves.map {
          "{\"record\": \(q($0.record)), \"from\": \(q($0.from)), \"to\": \(q($0.to)), \"bytes\": \($0.bytes), \"tensors\": [\($0.tensors.map(q).joined(separator: ", "))]}"
        }.joined(separator: ", ") + "]")
    fields.append(
      "\"summary\": ["
        + plan.summary.map {
          "{\"from\": \(q($0.from)), \"to\": \(q($0.to)), \"tensors\": \($0.tensors), \"storages\": \($0.storages), \"bytes\": \($0.bytes)}"
        }.joined(separator: ", ") + "]")
    fields.append(
      "\"device_arguments\": ["
        + plan.deviceArguments.map {
          "{\"key\": \(q($0.key)), \"from\": \(q($0.from)), \"to\": \(q($0.to))}"
        }.joined(separator: ", ") + "]")
    fields.append(
      "\"left_alone\": ["
        + plan.leftAlone.map {
          "{\"key\": \(q($0.key)), \"device\": \(q($0.device)), \"reason\": \(q($0.reason))}"
        }.joined(separator: ", ") + "]")
    fields.append(
      "\"pickles_rewritten\": [" + report.rewrite.rewrittenPickles.map(q).joined(separator: ", ")
        + "]")
    fields.append(
      "\"input_protocol\": " + (report.rewrite.inputProtocol.map(String.init) ?? "null"))
    fields.append(
      "\"unsafe_opcodes\": [" + report.rewrite.unsafeOpcodes.map(q).joined(separator: ", ") + "]")
    fields.append(
      "\"code_rewrites\": ["
        + report.rewrite.codeRewrites.map {
          "{\"record\": \(q($0.record)), \"from\": \(q($0.from)), \"to\": \(q($0.to)), \"count\": \($0.count)}"
        }.joined(separator: ", ") + "]")
    fields.append(
      "\"dropped_records\": [" + report.rewrite.droppedRecords.map(q).joined(separator: ", ") + "]")
    if verb != "remap" {
      fields.append("\"input_size\": \(report.inputSize)")
      fields.append("\"root\": " + (edit.root.map(q) ?? "null"))
      fields.append(
        "\"renamed\": ["
          + edit.renamed.map { "{\"from\": \(q($0.from)), \"to\": \(q($0.to))}" }.joined(
            separator: ", ") + "]")
      fields.append("\"dropped\": [" + edit.dropped.map(q).joined(separator: ", ") + "]")
      fields.append(
        "\"prefixes_detected\": [" + edit.detectedPrefixes.map(q).joined(separator: ", ") + "]")
      fields.append(
        "\"derived_flags\": [" + edit.derivedFlags.map(q).joined(separator: ", ") + "]")
      fields.append(
        "\"casts\": ["
          + edit.casts.map {
            "{\"record\": \(q($0.record)), \"from\": \(q($0.from.name)), \"to\": \(q($0.to.name)), \"bytes\": \($0.bytes)}"
          }.joined(separator: ", ") + "]")
      fields.append(
        "\"omitted_storages\": [" + report.rewrite.omittedStorages.map(q).joined(separator: ", ")
          + "]")
      fields.append(
        "\"keys\": "
          + (edit.outputKeys.map { "[" + $0.map(q).joined(separator: ", ") + "]" } ?? "null"))
    }
    switch report.inPlace {
    case .appended(let oldSize, let bytes)?:
      fields.append(
        "\"in_place\": {\"mode\": \"append\", \"old_size\": \(oldSize), \"appended_bytes\": \(bytes)}"
      )
    case .unchanged?:
      fields.append("\"in_place\": {\"mode\": \"unchanged\"}")
    case .rewritten(let reason)?:
      fields.append(
        "\"in_place\": {\"mode\": \"rewrite\", \"reason\": \(reason.map(q) ?? "null")}")
    case nil: break
    }
    fields.append("\"verified\": true")
    return "{\n  " + fields.joined(separator: ",\n  ") + "\n}\n"
  }
}
