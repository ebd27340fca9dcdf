using AnalyticsEngine.Gateway.Security;
using Microsoft.AspNetCore.SignalR;

namespace AnalyticsEngine.Gateway.Streaming;

/// <summary>
/// A refused hub call's message, capped as every HTTP error's detail is (<see cref="StatusDetails.MaxMessageLength"/>):
/// messages echo what the caller sent (a KPI code, a granularity), which may be as long as a message may be.
/// </summary>
public sealed class HubErrorFilter : IHubFilter
{
    public async ValueTask<object?> InvokeMethodAsync(HubInvocationContext invocationContext, Func<HubInvocationContext, ValueTask<object?>> next)
    {
        ArgumentNullException.ThrowIfNull(next);
        try
        {
            return await next(invocationContext);
        }
        catch (HubException refused) when (refused.Message.Length > StatusDetails.MaxMessageLength)
        {
            throw new HubException(StatusDetails.Capped(refused.Message));
        }
    }
}
