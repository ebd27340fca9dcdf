using AnalyticsEngine.Kpi.Engine;
using CsCheck;

namespace AnalyticsEngine.Kpi.Tests;

public class PackedNumbersTests
{
    [Fact]
    public void Any_doubles_round_trip_bit_for_bit() =>
        Gen.Double.Array.Sample(values =>
        {
            var unpacked = PackedNumbers.Unpack(PackedNumbers.Pack(values));
            Assert.Equal(values.Select(BitConverter.DoubleToInt64Bits), unpacked.Select(BitConverter.DoubleToInt64Bits));
        });

    [Fact]
    public void Edge_values_round_trip_and_small_counts_take_one_byte()
    {
        double[] values = [0, -0.0, 1, -1, 63, 64, -65, 4503599627370495, 4503599627370496, 1e300, 0.1, double.NaN, double.PositiveInfinity, long.MinValue];
        Assert.Equal(values.Select(BitConverter.DoubleToInt64Bits), PackedNumbers.Unpack(PackedNumbers.Pack(values)).Select(BitConverter.DoubleToInt64Bits));
        Assert.Equal(3, PackedNumbers.Pack([0, 1, 12]).Length);
    }
}
