import PTViewValues
import Testing

/// Python's float formatting against CPython itself (`Tests/Fixtures/print/floats.json`), and
/// the cases that decide correct rounding spelled out.
@Suite struct PythonFloatTests {
  @Test("repr, .4f, .4e and .0f equal CPython's on every vector")
  func matchesCPython() throws {
    let rows = try PrintVectors.loadFloats().floats
    #expect(rows.count > 2000)
    var failures = 0
    for row in rows {
      guard let bits = row[0], let repr = row[1], let scientific = row[3] else {
        Issue.record("incomplete row \(row)")
        continue
      }
      let value = try PrintVector.double(bits)
      var mismatches: [String] = []
      if PythonFloat.repr(value) != repr { mismatches.append("repr \(PythonFloat.repr(value))") }
      if let fixed = row[2], PythonFloat.fixed(value, precision: 4) != fixed {
        mismatches.append(".4f \(PythonFloat.fixed(value, precision: 4)) != \(fixed)")
      }
      if PythonFloat.scientific(value, precision: 4) != scientific {
        mismatches.append(".4e \(PythonFloat.scientific(value, precision: 4)) != \(scientific)")
      }
      if let whole = row[4], PythonFloat.fixed(value, precision: 0) != whole {
        mismatches.append(".0f \(PythonFloat.fixed(value, precision: 0)) != \(whole)")
      }
      if !mismatches.isEmpty {
        failures += 1
        if failures <= 20 { Issue.record("\(bits) (\(repr)): \(mismatches)") }
      }
    }
    #expect(failures == 0)
  }

  @Test("rounding is half to even on the exact binary value")
  func roundsTheExactValue() {
    // 0.15625 = 5/32 exactly: a tie at the 4th place, to even.
    #expect(PythonFloat.fixed(0.15625, precision: 4) == "0.1562")
    #expect(PythonFloat.fixed(0.03125, precision: 4) == "0.0312")
    // 2.675 is 2.67499999999999982236431605997495353221893310546875.
    #expect(PythonFloat.fixed(2.675, precision: 2) == "2.67")
    #expect(PythonFloat.fixed(0.5, precision: 0) == "0")
    #expect(PythonFloat.fixed(1.5, precision: 0) == "2")
    #expect(PythonFloat.fixed(2.5, precision: 0) == "2")
    #expect(PythonFloat.fixed(9.99995, precision: 4) == "10.0000")
    #expect(PythonFloat.scientific(9.99995e5, precision: 4) == "1.0000e+06")
    #expect(PythonFloat.scientific(100025, precision: 4) == "1.0002e+05")
    #expect(PythonFloat.scientific(100035, precision: 4) == "1.0004e+05")
    #expect(PythonFloat.scientific(99999.5, precision: 4) == "1.0000e+05")
  }

  @Test("signs, zeros and non-finite values are spelled as Python spells them")
  func specialValues() {
    #expect(PythonFloat.fixed(-0.0, precision: 4) == "-0.0000")
    #expect(PythonFloat.fixed(-0.00001, precision: 4) == "-0.0000")
    #expect(PythonFloat.scientific(0, precision: 4) == "0.0000e+00")
    #expect(PythonFloat.scientific(-0.0, precision: 4) == "-0.0000e+00")
    #expect(PythonFloat.scientific(1e-100, precision: 4) == "1.0000e-100")
    #expect(PythonFloat.fixed(-.nan, precision: 4) == "nan")
    #expect(PythonFloat.scientific(-.infinity, precision: 4) == "-inf")
    #expect(PythonFloat.repr(-.nan) == "nan")
    #expect(PythonFloat.repr(1e16) == "1e+16")
    #expect(PythonFloat.repr(1234567890123456.0) == "1234567890123456.0")
    #expect(PythonFloat.repr(0.0001) == "0.0001")
    #expect(PythonFloat.repr(0.00001) == "1e-05")
    #expect(PythonFloat.repr(-0.0) == "-0.0")
    #expect(PythonFloat.repr(.leastNonzeroMagnitude) == "5e-324")
    #expect(PythonFloat.repr(0.1) == "0.1")
  }
}
