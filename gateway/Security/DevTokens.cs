using System.Globalization;
using System.Security.Claims;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace AnalyticsEngine.Gateway.Security;

/// <summary>What a development token says about its bearer.</summary>
public sealed record DevTokenRequest(string Subject, IReadOnlyList<string> Roles, string Clients, TimeSpan Lifetime);

/// <summary>
/// Signs tokens with the configured symmetric key, for local development and tests. Production tokens come
/// from the identity provider named by <c>Auth:Authority</c>; this never runs unless <c>Auth:AllowDevTokens</c> is true.
/// </summary>
public static class DevTokens
{
    public const string Command = "mint-token";

    /// <summary>A signed JWT with the configured issuer and audience.</summary>
    public static string Create(AuthOptions options, DevTokenRequest request, DateTimeOffset? now = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(request);
        var issuedAt = (now ?? DateTimeOffset.UtcNow).UtcDateTime;
        var claims = new List<Claim>
        {
            new(JwtRegisteredClaimNames.Sub, request.Subject),
            new(JwtRegisteredClaimNames.Jti, Guid.NewGuid().ToString("N")),
            new(ClientAccess.ClaimType, request.Clients),
        };
        claims.AddRange(request.Roles.Select(role => new Claim(options.RoleClaim, role)));

        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = options.Issuer,
            Audience = options.Audience,
            Subject = new ClaimsIdentity(claims),
            IssuedAt = issuedAt,
            NotBefore = issuedAt,
            Expires = issuedAt + request.Lifetime,
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(options.SigningKeyBytes), SecurityAlgorithms.HmacSha256),
        };
        return new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(descriptor);
    }

    public static bool IsInvocation(string[] args) => args is [Command, ..];

    /// <summary>
    /// <c>mint-token --role admin [--role …] --clients '*' [--minutes 480] [--subject dev]</c>: prints a token on
    /// stdout. Any other <c>--Section:Key=value</c> argument is configuration, as for the gateway itself.
    /// </summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);

        List<string> roles = [];
        string? clients = null;
        var minutes = 60;
        var subject = "dev-" + Environment.UserName;
        List<string> configurationArgs = [];
        for (var i = 1; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            try
            {
                switch (args[i])
                {
                    case "--role":
                        roles.Add(Next());
                        break;
                    case "--clients":
                        clients = Next();
                        break;
                    case "--minutes":
                        minutes = int.Parse(Next(), NumberStyles.None, CultureInfo.InvariantCulture);
                        break;
                    case "--subject":
                        subject = Next();
                        break;
                    default:
                        configurationArgs.Add(args[i]);
                        break;
                }
            }
            catch (Exception ex) when (ex is ArgumentException or FormatException or OverflowException)
            {
                error.WriteLine($"mint-token: {ex.Message}");
                return Usage(error);
            }
        }

        if (roles.Count == 0 || string.IsNullOrWhiteSpace(clients) || minutes is < 1 or > 7 * 24 * 60)
        {
            return Usage(error);
        }

        if (roles.FirstOrDefault(r => !Roles.All.Contains(r)) is { } unknown)
        {
            error.WriteLine($"mint-token: unknown role '{unknown}'; roles are {string.Join(", ", Roles.All)}.");
            return 2;
        }

        // The same configuration sources as the gateway (appsettings, appsettings.{Environment}, env, args).
        var configuration = WebApplication.CreateBuilder(new WebApplicationOptions { Args = [.. configurationArgs] }).Configuration;
        var options = configuration.GetSection(AuthOptions.Section).Get<AuthOptions>() ?? new AuthOptions();
        if (!options.AllowDevTokens)
        {
            error.WriteLine("mint-token: refused: Auth:AllowDevTokens is not true. Development tokens are for local use; " +
                "run with ASPNETCORE_ENVIRONMENT=Development (appsettings.Development.json enables them) or get a token from your identity provider.");
            return 3;
        }

        var validation = new AuthOptionsValidator().Validate(null, options);
        if (validation.Failed || options.UsesAuthority)
        {
            error.WriteLine("mint-token: refused: " + (validation.Failed ? validation.FailureMessage : "Auth:Authority is set, so the gateway would not accept a locally signed token."));
            return 3;
        }

        output.WriteLine(Create(options, new DevTokenRequest(subject, roles, clients, TimeSpan.FromMinutes(minutes))));
        return 0;
    }

    private static int Usage(TextWriter error)
    {
        error.WriteLine("usage: mint-token --role admin|analyst|viewer [--role …] --clients '<id> <id>…'|'*' [--minutes 1-10080] [--subject name]");
        return 2;
    }
}
