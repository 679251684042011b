using System.Security.Cryptography.X509Certificates;
using System.Text;
using k8s;
using k8s.KubeConfigModels;

namespace Gadget.Kubernetes;

/// <summary>
/// Where the cluster's address and credentials come from: the defaults (KUBECONFIG,
/// ~/.kube/config, in-cluster), a kubeconfig given as a path or as its content, or an API server
/// URL with a bearer token and its CA certificate (no kubeconfig at all: what a runbook gets from a
/// managed identity).
/// </summary>
/// <remarks>
/// Telling a path from content, in this order: a value with a line break, or that starts with
/// <c>{</c>, or holds <c>apiVersion:</c> is content (YAML or JSON); a value that names an existing
/// file is a path; a value that is base64 of such content is content; a value that starts with
/// <c>/</c>, <c>~</c>, <c>.</c> or a drive letter and holds no white space is a path (of a missing
/// file); anything else is content. Content, and anything that is not shaped like a path, never
/// appears in an error.
/// </remarks>
public sealed class KubeConfigSource
{
    /// <summary>A path to a kubeconfig file, or the kubeconfig itself (YAML, JSON or base64 of either); null for the defaults.</summary>
    public string? KubeConfig { get; init; }

    /// <summary>The context to use; null for the kubeconfig's current context.</summary>
    public string? Context { get; init; }

    /// <summary>The API server's URL, for the token route; null to use a kubeconfig.</summary>
    public Uri? Server { get; init; }

    /// <summary>The bearer token for <see cref="Server"/> (an Entra ID access token, a service account token).</summary>
    public string? Token { get; init; }

    /// <summary>The CA certificate of <see cref="Server"/>: a PEM file's path, PEM text, or base64 of PEM (as in a kubeconfig's certificate-authority-data); null for the system's trusted roots.</summary>
    public string? CertificateAuthority { get; init; }

    /// <summary>What the source is, for an error's target: a file's path, never content or a token.</summary>
    public string Description
    {
        get
        {
            if (Server is not null)
            {
                return Server.GetLeftPart(UriPartial.Authority);
            }

            if (KubeConfig is { Length: > 0 } given)
            {
                return Classify(given) is { IsContent: false } shape && LooksLikePath(shape.Text) ? given : "-KubeConfig (content)";
            }

            return Environment.GetEnvironmentVariable("KUBECONFIG") is { Length: > 0 } variable
                ? Array.TrueForAll(variable.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries), LooksLikePath) ? variable : "$env:KUBECONFIG (not a list of paths)"
                : DefaultFile;
        }
    }

    /// <summary>
    /// The names of the kubeconfig's contexts, for completion: read from the file or content this
    /// source selects, without contacting anything; empty when there is none or it cannot be read.
    /// </summary>
    public IReadOnlyList<string> ContextNames()
    {
        try
        {
            K8SConfiguration? config = null;
            if (KubeConfig is { Length: > 0 } given)
            {
                (bool isContent, string text) = Classify(given);
                config = isContent ? ParseText(text) : File.Exists(text) ? KubernetesClientConfiguration.LoadKubeConfig(new FileInfo(text)) : null;
            }
            else
            {
                string? variable = Environment.GetEnvironmentVariable("KUBECONFIG");
                string? file = variable is { Length: > 0 }
                    ? variable.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries).Where(LooksLikePath).FirstOrDefault(File.Exists)
                    : File.Exists(DefaultFile) ? DefaultFile : null;
                config = file is null ? null : KubernetesClientConfiguration.LoadKubeConfig(new FileInfo(file));
            }

            return config?.Contexts?.Select(c => c.Name).Where(n => !string.IsNullOrEmpty(n)).ToList() ?? [];
        }
        catch (Exception)
        {
            return []; // completion says nothing rather than fail
        }
    }

    private static string DefaultFile => Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".kube", "config");

    /// <summary>The client configuration this source selects; every failure is a <see cref="GadgetException"/> that repeats no secret.</summary>
    internal KubernetesClientConfiguration Load()
    {
        if (Server is not null)
        {
            return FromToken();
        }

        if (Token is not null || CertificateAuthority is not null)
        {
            throw new GadgetException(GadgetErrorId.KubeConfigInvalid, GadgetErrorKind.InvalidArgument,
                "-Token and -CertificateAuthority need -Server: the API server's URL they belong to.")
            {
                RecommendedAction = "Add -Server https://<api-server>:443, or use -KubeConfig instead.",
            };
        }

        if (KubeConfig is { Length: > 0 } given)
        {
            (bool isContent, string text) = Classify(given);
            if (isContent)
            {
                return Build(Parse(() => ParseText(text), "-KubeConfig (content)", text), "-KubeConfig (content)");
            }

            if (!File.Exists(text))
            {
                throw new GadgetException(GadgetErrorId.KubeConfigNotFound, GadgetErrorKind.InvalidArgument,
                    $"The kubeconfig file {text} does not exist.")
                {
                    RecommendedAction = "Give -KubeConfig the path of a kubeconfig file, or the kubeconfig's content as a string (YAML, JSON or base64).",
                };
            }

            return FromFile(text);
        }

        string? variable = Environment.GetEnvironmentVariable("KUBECONFIG");
        if (variable is { Length: > 0 })
        {
            string[] files = variable.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
            if (!Array.TrueForAll(files, LooksLikePath))
            {
                // Someone put the kubeconfig itself, or a token, into the variable: say so without repeating it.
                throw new GadgetException(GadgetErrorId.KubeConfigInvalid, GadgetErrorKind.InvalidArgument,
                    "$env:KUBECONFIG must hold kubeconfig file paths (separated by '" + Path.PathSeparator + "'); it holds something else, not shown here.")
                {
                    RecommendedAction = "To pass a kubeconfig's content, give it to -KubeConfig; set $env:KUBECONFIG only to file paths.",
                };
            }

            // Read $env:KUBECONFIG now: KubernetesClient reads it once per process. Of a list of
            // files (kubectl merges them), the first that exists is used.
            if (files.FirstOrDefault(File.Exists) is { } file)
            {
                return FromFile(file);
            }
        }
        else if (File.Exists(DefaultFile))
        {
            return FromFile(DefaultFile);
        }

        if (KubernetesClientConfiguration.IsInCluster())
        {
            return KubernetesClientConfiguration.InClusterConfig();
        }

        throw new GadgetException(GadgetErrorId.KubeConfigNotFound, GadgetErrorKind.NotSupported,
            $"No kubeconfig was found ({(variable is { Length: > 0 } ? "$env:KUBECONFIG = " + variable : DefaultFile)}) and this is not a Kubernetes pod, so there is no cluster to reach.")
        {
            RecommendedAction = "Give -KubeConfig (a path or the content), or -Server and -Token, set $env:KUBECONFIG, or add -Local to trace this host.",
        };
    }

    private KubernetesClientConfiguration FromFile(string path)
    {
        string what = $"The kubeconfig file {path}";
        string? text = null;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            throw new GadgetException(GadgetErrorId.KubeConfigInvalid, GadgetErrorKind.InvalidArgument, $"{what} cannot be read: {exception.Message}", exception);
        }

        if (string.IsNullOrWhiteSpace(text))
        {
            throw new GadgetException(GadgetErrorId.KubeConfigInvalid, GadgetErrorKind.InvalidArgument, $"{what} is empty.")
            {
                RecommendedAction = "Give a kubeconfig (YAML or JSON, as kubectl config view --raw prints it), or -Server and -Token.",
            };
        }

        // Loaded from the file, not the text: relative certificate paths in it are relative to it.
        return Build(Parse(() => KubernetesClientConfiguration.LoadKubeConfig(new FileInfo(path)), what, text), what);
    }

    private static K8SConfiguration? ParseText(string text)
    {
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes(text));
        return KubernetesClientConfiguration.LoadKubeConfig(stream);
    }

    private KubernetesClientConfiguration FromToken()
    {
        if (Server is not { IsAbsoluteUri: true } server || (server.Scheme != Uri.UriSchemeHttps && server.Scheme != Uri.UriSchemeHttp))
        {
            throw new GadgetException(GadgetErrorId.KubeConfigInvalid, GadgetErrorKind.InvalidArgument,
                "-Server must be the API server's absolute https URL, such as https://my-cluster-dns-1a2b3c4d.hcp.westeurope.azmk8s.io:443.");
        }

        var configuration = new KubernetesClientConfiguration
        {
            Host = server.ToString().TrimEnd('/'),
            AccessToken = string.IsNullOrEmpty(Token) ? null : Token,
            Namespace = "default",
        };
        if (CertificateAuthority is { Length: > 0 } authority)
        {
            configuration.SslCaCerts = ReadCertificates(authority);
        }

        return configuration;
    }

    private static X509Certificate2Collection ReadCertificates(string authority)
    {
        string pem;
        if (authority.Contains("-----BEGIN", StringComparison.Ordinal))
        {
            pem = authority;
        }
        else if (LooksLikePath(authority) && File.Exists(authority))
        {
            pem = File.ReadAllText(authority);
        }
        else if (TryBase64Text(authority, out string? decoded) && decoded.Contains("-----BEGIN", StringComparison.Ordinal))
        {
            pem = decoded;
        }
        else
        {
            throw new GadgetException(GadgetErrorId.KubeConfigInvalid, GadgetErrorKind.InvalidArgument,
                LooksLikePath(authority)
                    ? $"The CA certificate file {authority} does not exist."
                    : "-CertificateAuthority is neither a PEM certificate, nor base64 of one, nor the path of an existing file.")
            {
                RecommendedAction = "Give the API server's CA certificate: a PEM file's path, its PEM text, or the base64 certificate-authority-data of a kubeconfig.",
            };
        }

        var certificates = new X509Certificate2Collection();
        try
        {
            certificates.ImportFromPem(pem);
        }
        catch (System.Security.Cryptography.CryptographicException exception)
        {
            throw new GadgetException(GadgetErrorId.KubeConfigInvalid, GadgetErrorKind.InvalidArgument,
                $"The CA certificate cannot be read: {exception.Message}", exception);
        }

        return certificates.Count > 0
            ? certificates
            : throw new GadgetException(GadgetErrorId.KubeConfigInvalid, GadgetErrorKind.InvalidArgument, "The CA certificate holds no CERTIFICATE block.");
    }

    /// <summary>Parses a kubeconfig; <paramref name="content"/> (when given) is scrubbed from the parser's message.</summary>
    private static K8SConfiguration Parse(Func<K8SConfiguration?> load, string what, string? content)
    {
        K8SConfiguration? config;
        try
        {
            config = load();
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // The parser's own words (YamlDotNet's line and column), from the innermost exception
            // that has any: "Exception during deserialization" alone says nothing.
            Exception reason = exception;
            while (reason.InnerException is not null)
            {
                reason = reason.InnerException;
            }

            string message = reason == exception ? exception.Message : $"{exception.Message}: {reason.Message}";
            throw new GadgetException(GadgetErrorId.KubeConfigInvalid, GadgetErrorKind.InvalidArgument,
                $"{what} is not a kubeconfig: {Redact(message, content)}")
            {
                RecommendedAction = "Give a kubeconfig (YAML or JSON, as kubectl config view --raw prints it), or -Server and -Token.",
            };
        }

        if (config is null)
        {
            throw new GadgetException(GadgetErrorId.KubeConfigInvalid, GadgetErrorKind.InvalidArgument, $"{what} is empty.")
            {
                RecommendedAction = "Give a kubeconfig (YAML or JSON, as kubectl config view --raw prints it), or -Server and -Token.",
            };
        }

        return config;
    }

    private KubernetesClientConfiguration Build(K8SConfiguration config, string what)
    {
        string? contextName = Context ?? config.CurrentContext;
        if (string.IsNullOrEmpty(contextName) || config.Contexts is null || !config.Contexts.Any())
        {
            throw new GadgetException(GadgetErrorId.KubeConfigInvalid, GadgetErrorKind.InvalidArgument,
                $"{what} names no context (it has no current-context, or no contexts at all).")
            {
                RecommendedAction = "Give -Context, or a kubeconfig with a current-context (kubectl config use-context NAME).",
            };
        }

        CheckCredentialPlugin(config, contextName);
        try
        {
            return KubernetesClientConfiguration.BuildConfigFromConfigObject(config, Context);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            throw new GadgetException(GadgetErrorId.KubeConfigInvalid, GadgetErrorKind.InvalidArgument,
                $"{what} cannot be used: {exception.Message}", exception)
            {
                RecommendedAction = "Check the kubeconfig and the -Context name (kubectl config get-contexts lists them).",
            };
        }
    }

    /// <summary>
    /// An exec credential plugin (kubelogin, aws, gke-gcloud-auth-plugin) runs on every connection;
    /// a runbook's sandbox rarely has it, and KubernetesClient's own failure does not name it.
    /// </summary>
    private static void CheckCredentialPlugin(K8SConfiguration config, string contextName)
    {
        string? userName = config.Contexts.FirstOrDefault(c => c.Name == contextName)?.ContextDetails?.User;
        string? command = config.Users?.FirstOrDefault(u => u.Name == userName)?.UserCredentials?.ExternalExecution?.Command;
        if (string.IsNullOrEmpty(command) || IsOnPath(command))
        {
            return;
        }

        throw new GadgetException(GadgetErrorId.KubeCredentialPluginNotFound, GadgetErrorKind.NotSupported,
            $"The kubeconfig's user {userName} gets its credentials from the program '{command}', which is not on PATH here.")
        {
            RecommendedAction = $"Install '{command}' where this runs, or skip the plugin: get a token yourself (in Azure: Get-AzAccessToken -ResourceUrl 6dae42f8-4368-4678-94ff-3960e28e3630 for an AKS cluster with Entra ID) and pass -Server, -Token and -CertificateAuthority instead of -KubeConfig. See about_Gadget.",
        };
    }

    private static bool IsOnPath(string command)
    {
        if (command.Contains('/', StringComparison.Ordinal) || command.Contains('\\', StringComparison.Ordinal))
        {
            return File.Exists(command);
        }

        string[] extensions = OperatingSystem.IsWindows() ? [".exe", ".cmd", ".bat", string.Empty] : [string.Empty];
        return (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Any(directory => extensions.Any(extension => File.Exists(Path.Combine(directory, command + extension))));
    }

    /// <summary>Whether <paramref name="value"/> is a kubeconfig's content, and the text to read (base64 decoded).</summary>
    internal static (bool IsContent, string Text) Classify(string value)
    {
        if (value.Contains('\n', StringComparison.Ordinal) || value.TrimStart().StartsWith('{') || value.Contains("apiVersion:", StringComparison.Ordinal))
        {
            return (true, value);
        }

        if (File.Exists(value))
        {
            return (false, value);
        }

        if (TryBase64Text(value, out string? decoded))
        {
            return (true, decoded);
        }

        return LooksLikePath(value) ? (false, value) : (true, value);
    }

    /// <summary>A file path as people write them: absolute, home-relative or dot-relative, with no white space.</summary>
    internal static bool LooksLikePath(string value)
    {
        string trimmed = value.Trim();
        if (trimmed.Length == 0 || trimmed.Length > 4096 || trimmed.Any(char.IsWhiteSpace) || trimmed.Any(char.IsControl))
        {
            return false;
        }

        return trimmed[0] is '/' or '~' or '.' or '\\'
            || (trimmed.Length > 2 && char.IsAsciiLetter(trimmed[0]) && trimmed[1] == ':' && trimmed[2] is '\\' or '/');
    }

    private static bool TryBase64Text(string value, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? text)
    {
        text = null;
        string trimmed = value.Trim();
        if (trimmed.Length < 16 || trimmed.Length % 4 != 0)
        {
            return false;
        }

        byte[] bytes = new byte[trimmed.Length / 4 * 3];
        if (!Convert.TryFromBase64String(trimmed, bytes, out int written))
        {
            return false;
        }

        try
        {
            text = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(bytes, 0, written);
        }
        catch (DecoderFallbackException)
        {
            return false;
        }

        // Text, not binary that happens to be valid UTF-8.
        return !text.Any(c => char.IsControl(c) && c is not '\n' and not '\r' and not '\t');
    }

    /// <summary>The parser's message without any piece of the content (a token, a key) it may quote.</summary>
    internal static string Redact(string message, string? content)
    {
        if (string.IsNullOrEmpty(content))
        {
            return message;
        }

        foreach (string piece in content.Split([' ', '\n', '\r', '\t', ',', ':', '"', '\'', '{', '}', '[', ']'], StringSplitOptions.RemoveEmptyEntries)
            .Where(p => p.Length >= 6)
            .OrderByDescending(p => p.Length))
        {
            message = message.Replace(piece, "(…)", StringComparison.Ordinal);
        }

        return message;
    }
}
