import PTViewValues
import Testing

@testable import PTViewFiles

/// `cat` reads what the print shows and nothing else: the window between the printer and the
/// reader, driven by the real printer.
@Suite struct TensorTextTests {
  /// Prints a float32 tensor of `shape` whose element i is i, counting the elements read.
  func printCounting(_ shape: [Int]) -> (text: String, reads: Int, elements: Int) {
    let count = shape.reduce(1, *)
    var window = ShownWindow(count: count)
    var reads = 0
    var elements = 0
    let dtype = PrintDType(torchName: "float32")!
    let text = TensorPrinter.string(PrintedTensor(dtype: dtype, shape: shape)) { index in
      window.element(index) { from, n in
        reads += 1
        elements += n
        return (from..<from + n).map { .float(Double($0)) }
      }
    }
    return (text, reads, elements)
  }

  @Test("a summarised tensor of 10^10 elements costs a few hundred element reads")
  func summarised() {
    let (text, reads, elements) = printCounting([100_000, 100_000])
    #expect(text.hasPrefix("tensor([[0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 9.9997e+04,"))
    // 6 rows, each with two runs of 3 shown elements: at most 12 reads of 6 elements (a
    // read at a row end also serves the next row when they meet).
    #expect(reads <= 12)
    #expect(elements <= 72)
  }

  @Test("up to 1,000 elements, one read of them all")
  func small() {
    let (_, reads, elements) = printCounting([10, 100])
    #expect(reads == 1)
    #expect(elements == 1000)
  }

  @Test("a summarised tensor with a short last dimension reads each row once")
  func narrow() {
    let (_, reads, elements) = printCounting([500, 4])
    #expect(reads <= 6)
    #expect(elements <= 36)
  }
}
