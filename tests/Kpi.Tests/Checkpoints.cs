using AnalyticsEngine.Kpi.Engine;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;

namespace AnalyticsEngine.Kpi.Tests;

/// <summary>Sends a checkpoint through Orleans' own serializer, as grain storage would.</summary>
internal static class Checkpoints
{
    private static readonly Serializer Serializer = new ServiceCollection().AddSerializer().BuildServiceProvider().GetRequiredService<Serializer>();

    public static byte[] Serialize(ClientKpiEngineState state) => Serializer.SerializeToArray(state);

    public static ClientKpiEngineState RoundTrip(ClientKpiEngineState state) => Serializer.Deserialize<ClientKpiEngineState>(Serialize(state))!;
}
