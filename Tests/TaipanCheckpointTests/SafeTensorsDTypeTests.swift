import Testing

@testable import TaipanCheckpoint

@Suite struct SafeTensorsDTypeTests {
    @Test func halfBitPatternsConvertExactly() {
        // Hand-worked: sign | 5-bit exponent (bias 15) | 10-bit mantissa.
        #expect(floatFromHalfBits(0x3C00) == 1)
        #expect(floatFromHalfBits(0xC000) == -2)
        #expect(floatFromHalfBits(0x7BFF) == 65504)
        #expect(floatFromHalfBits(0x3555) == 0.333251953125)  // (1 + 341/1024) / 4
        #expect(floatFromHalfBits(0x0400) == 0x1p-14)  // smallest normal
        #expect(floatFromHalfBits(0x0001) == 0x1p-24)  // smallest subnormal
        #expect(floatFromHalfBits(0x03FF) == 1023 * 0x1p-24)  // largest subnormal
        #expect(floatFromHalfBits(0x8001) == -0x1p-24)
        #expect(floatFromHalfBits(0x0000).bitPattern == 0)
        #expect(floatFromHalfBits(0x8000).bitPattern == 0x8000_0000)
        #expect(floatFromHalfBits(0x7C00) == .infinity)
        #expect(floatFromHalfBits(0xFC00) == -.infinity)
        #expect(floatFromHalfBits(0x7E00).isNaN)
        // A signalling NaN keeps its payload, shifted into the top of the Float32 mantissa.
        #expect(floatFromHalfBits(0x7C01).bitPattern == 0x7F80_2000)
    }

    @Test func halfConversionAgreesWithFloat16OnEveryPattern() {
        for bits in UInt16.min...UInt16.max {
            let reference = Float(Float16(bitPattern: bits))
            let converted = floatFromHalfBits(bits)
            if reference.isNaN {
                #expect(converted.isNaN)
            } else if converted.bitPattern != reference.bitPattern {
                Issue.record("0x\(String(bits, radix: 16)): \(converted) != \(reference)")
            }
        }
    }

    @Test func bfloat16BitPatternsConvertExactly() {
        #expect(floatFromBFloat16Bits(0x3F80) == 1)
        #expect(floatFromBFloat16Bits(0xC040) == -3)
        #expect(floatFromBFloat16Bits(0x3EAB) == 0.333984375)  // (1 + 43/128) / 4
        #expect(floatFromBFloat16Bits(0x7F7F) == Float(bitPattern: 0x7F7F_0000))
        #expect(floatFromBFloat16Bits(0x0001) == 0x1p-133)  // subnormal
        #expect(floatFromBFloat16Bits(0xFF80) == -.infinity)
        #expect(floatFromBFloat16Bits(0x7FC0).isNaN)
    }

    @Test func byteSizes() {
        #expect(SafeTensorsDType.F32.byteSize == 4)
        #expect(SafeTensorsDType.BF16.byteSize == 2)
        #expect(SafeTensorsDType.I64.byteSize == 8)
        #expect(SafeTensorsDType.BOOL.byteSize == 1)
        #expect(SafeTensorsDType(rawValue: "F8_E4M3")?.byteSize == 1)
    }

    @Test func widensEveryFloatTypeWithAStride() {
        // 1, -2, 0.5 and 3 of each type, little-endian, read every other element from an odd address.
        let cases: [(SafeTensorsDType, [UInt8])] = [
            (.F32, littleEndianBytes([Float(1).bitPattern, Float(-2).bitPattern, Float(0.5).bitPattern, Float(3).bitPattern])),
            (.F16, littleEndianBytes([UInt16(0x3C00), 0xC000, 0x3800, 0x4200])),
            (.BF16, littleEndianBytes([UInt16(0x3F80), 0xC000, 0x3F00, 0x4040])),
            (.F64, littleEndianBytes([Double(1).bitPattern, Double(-2).bitPattern, Double(0.5).bitPattern, Double(3).bitPattern])),
        ]
        for (dtype, bytes) in cases {
            var values = [Float](repeating: .nan, count: 2)
            let ok = ([0xFF] + bytes).withUnsafeBytes { raw in
                values.withUnsafeMutableBufferPointer { dtype.widen(from: raw.baseAddress! + 1, elementStride: 2, into: $0) }
            }
            #expect(ok && values == [1, 0.5], "\(dtype)")
        }
        var untouched: [Float] = [7]
        let refused = [UInt8](repeating: 0, count: 8).withUnsafeBytes { raw in
            untouched.withUnsafeMutableBufferPointer { SafeTensorsDType.I64.widen(from: raw.baseAddress!, elementStride: 1, into: $0) }
        }
        #expect(!refused && untouched == [7])
    }
}
