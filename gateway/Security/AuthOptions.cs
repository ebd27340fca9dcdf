using System.Text;
using Microsoft.Extensions.Options;

namespace AnalyticsEngine.Gateway.Security;

/// <summary>
/// How the gateway validates bearer tokens, bound from the <c>Auth</c> configuration section. Either a
/// symmetric <see cref="SigningKey"/> (local development, tests) or an <see cref="Authority"/> whose
/// OpenID configuration and JWKS publish the signing keys (production).
/// </summary>
public sealed class AuthOptions
{
    public const string Section = "Auth";

    /// <summary>HS256 needs a key of at least 256 bits.</summary>
    public const int MinSigningKeyBytes = 32;

    /// <summary>The <c>iss</c> every token must carry. With an authority, defaults to what its metadata says.</summary>
    public string? Issuer { get; set; }

    /// <summary>The <c>aud</c> every token must carry.</summary>
    public string? Audience { get; set; }

    /// <summary>Symmetric HS256 key (UTF-8). For local use only: in production use <see cref="Authority"/>.</summary>
    public string? SigningKey { get; set; }

    /// <summary>Token issuer base URL (OpenID Connect discovery and JWKS), e.g. <c>https://login.example.com/tenant/v2.0</c>.</summary>
    public string? Authority { get; set; }

    /// <summary>Whether the authority's metadata must be fetched over HTTPS.</summary>
    public bool RequireHttpsMetadata { get; set; } = true;

    /// <summary>The claim that carries roles (<c>role</c>; Entra ID uses <c>roles</c>).</summary>
    public string RoleClaim { get; set; } = "role";

    /// <summary>Tolerated clock difference between the issuer and the gateway.</summary>
    public int ClockSkewSeconds { get; set; } = 30;

    /// <summary>Allows <c>mint-token</c> to sign tokens with <see cref="SigningKey"/>. Development only.</summary>
    public bool AllowDevTokens { get; set; }

    internal bool UsesAuthority => !string.IsNullOrWhiteSpace(Authority);

    internal byte[] SigningKeyBytes => Encoding.UTF8.GetBytes(SigningKey ?? "");
}

/// <summary>Refuses to start with settings that would accept forged tokens or none at all.</summary>
public sealed class AuthOptionsValidator : IValidateOptions<AuthOptions>
{
    public ValidateOptionsResult Validate(string? name, AuthOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();

        if (string.IsNullOrWhiteSpace(options.Audience))
        {
            failures.Add("Auth:Audience is required: the audience every token must name (env Auth__Audience).");
        }

        if (options.UsesAuthority)
        {
            if (!Uri.TryCreate(options.Authority, UriKind.Absolute, out var authority) || authority.Scheme is not ("https" or "http"))
            {
                failures.Add($"Auth:Authority '{options.Authority}' is not an absolute http(s) URL.");
            }
        }
        else
        {
            if (string.IsNullOrWhiteSpace(options.Issuer))
            {
                failures.Add("Auth:Issuer is required with a signing key: the issuer every token must name (env Auth__Issuer).");
            }

            if (string.IsNullOrEmpty(options.SigningKey))
            {
                failures.Add("Neither Auth:SigningKey nor Auth:Authority is set: the gateway cannot validate tokens. " +
                    "Set Auth:Authority (production) or Auth:SigningKey (local use; appsettings.Development.json has one).");
            }
            else if (options.SigningKeyBytes.Length < AuthOptions.MinSigningKeyBytes)
            {
                failures.Add($"Auth:SigningKey is {options.SigningKeyBytes.Length} bytes; HS256 needs at least {AuthOptions.MinSigningKeyBytes}.");
            }
        }

        if (options.AllowDevTokens && string.IsNullOrEmpty(options.SigningKey))
        {
            failures.Add("Auth:AllowDevTokens needs Auth:SigningKey to sign with.");
        }

        if (string.IsNullOrWhiteSpace(options.RoleClaim))
        {
            failures.Add("Auth:RoleClaim must name a claim.");
        }

        if (options.ClockSkewSeconds is < 0 or > 300)
        {
            failures.Add("Auth:ClockSkewSeconds must be between 0 and 300.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
