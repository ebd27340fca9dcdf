using System.Buffers.Binary;

namespace AnalyticsEngine.Kpi.Engine;

/// <summary>
/// Packs doubles for checkpoints: most accumulators are counts or whole sums, which fit in a one- or two-byte
/// varint instead of eight bytes. Each value is a zigzag varint of <c>(integer &lt;&lt; 1)</c>, or the marker 1
/// followed by the eight raw bytes for anything else (fractions, NaN, huge values).
/// </summary>
internal static class PackedNumbers
{
    private const double MaxExactInteger = 1L << 52;

    public static byte[] Pack(ReadOnlySpan<double> values)
    {
        var buffer = new byte[(values.Length * 10) + 1];
        var length = 0;
        foreach (var value in values)
        {
            if (Math.Abs(value) < MaxExactInteger && Math.Floor(value) == value && !(value == 0 && double.IsNegative(value)))
            {
                length = WriteVarint(buffer, length, ZigZag((long)value) << 1);
            }
            else
            {
                buffer[length++] = 1;
                BinaryPrimitives.WriteInt64LittleEndian(buffer.AsSpan(length), BitConverter.DoubleToInt64Bits(value));
                length += 8;
            }
        }

        return buffer.AsSpan(0, length).ToArray();
    }

    public static double[] Unpack(byte[] packed)
    {
        var values = new List<double>();
        var position = 0;
        while (position < packed.Length)
        {
            if (packed[position] == 1)
            {
                values.Add(BitConverter.Int64BitsToDouble(BinaryPrimitives.ReadInt64LittleEndian(packed.AsSpan(position + 1))));
                position += 9;
            }
            else
            {
                var raw = ReadVarint(packed, ref position);
                values.Add(UnZigZag(raw >> 1));
            }
        }

        return [.. values];
    }

    private static ulong ZigZag(long value) => (ulong)((value << 1) ^ (value >> 63));

    private static long UnZigZag(ulong value) => (long)(value >> 1) ^ -(long)(value & 1);

    private static int WriteVarint(byte[] buffer, int position, ulong value)
    {
        while (value >= 0x80)
        {
            buffer[position++] = (byte)(value | 0x80);
            value >>= 7;
        }

        buffer[position++] = (byte)value;
        return position;
    }

    private static ulong ReadVarint(byte[] buffer, ref int position)
    {
        ulong value = 0;
        var shift = 0;
        byte b;
        do
        {
            b = buffer[position++];
            value |= (ulong)(b & 0x7F) << shift;
            shift += 7;
        }
        while ((b & 0x80) != 0);
        return value;
    }
}
