// SafeTensorsDType.swift — the element types of the safetensors format
// (https://github.com/huggingface/safetensors, "Format"), their sizes, and the exact
// widening of IEEE half (F16) and bfloat16 (BF16) values to Float32.

import TaipanTensor

/// An element type a safetensors header may name: booleans, unsigned and signed integers
/// (`U8` … `I64`), IEEE floats (`F16`, `F32`, `F64`), bfloat16 and the two 8-bit float formats.
public enum SafeTensorsDType: String, Sendable, CaseIterable {
    case BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .BOOL, .U8, .I8, .F8_E5M2, .F8_E4M3: return 1
        case .I16, .U16, .F16, .BF16: return 2
        case .I32, .U32, .F32: return 4
        case .F64, .I64, .U64: return 8
        }
    }

    /// Reads `destination.count` little-endian elements of this type from `source`,
    /// `elementStride` elements apart, unaligned, and writes them widened to Float32; returns
    /// false, writing nothing, when this is not a float type (F32, F16, BF16 or F64).
    func widen(
        from source: UnsafeRawPointer, elementStride: Int, into destination: UnsafeMutableBufferPointer<Float>
    ) -> Bool {
        let step = byteSize * elementStride
        switch self {
        case .F32:
            for index in 0..<destination.count {
                let bits = UInt32(littleEndian: source.loadUnaligned(fromByteOffset: step * index, as: UInt32.self))
                destination[index] = Float(bitPattern: bits)
            }
        case .F16:
            for index in 0..<destination.count {
                let bits = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: step * index, as: UInt16.self))
                destination[index] = floatFromHalfBits(bits)
            }
        case .BF16:
            for index in 0..<destination.count {
                let bits = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: step * index, as: UInt16.self))
                destination[index] = floatFromBFloat16Bits(bits)
            }
        case .F64:
            for index in 0..<destination.count {
                let bits = UInt64(littleEndian: source.loadUnaligned(fromByteOffset: step * index, as: UInt64.self))
                destination[index] = Float(Double(bitPattern: bits))
            }
        default:
            return false
        }
        return true
    }
}

/// The Float32 equal to the IEEE 754 binary16 value with bit pattern `bits`.
///
/// Every half value is exactly representable in Float32, subnormals, infinities and NaN
/// payloads included, so this conversion never rounds.
@inlinable
public func floatFromHalfBits(_ bits: UInt16) -> Float {
    let sign = UInt32(bits & 0x8000) << 16
    let exponent = UInt32(bits >> 10) & 0x1F
    let mantissa = UInt32(bits & 0x03FF)
    switch exponent {
    case 0x1F:
        return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)
    case 0:
        // Zero or subnormal: mantissa × 2^-24, exact in Float32 (a 10-bit integer times a
        // power of two).
        let magnitude = Float(mantissa) * 0x1p-24
        return sign == 0 ? magnitude : -magnitude
    default:
        // Rebias the exponent from 15 to 127.
        return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
    }
}

/// The Float32 equal to the bfloat16 value with bit pattern `bits` (its upper half); the same
/// widening TaipanTensor's bfloat16 matrices use.
@inlinable
public func floatFromBFloat16Bits(_ bits: UInt16) -> Float {
    float(fromBFloat16: bits)
}
