namespace Gadget;

/// <summary>
/// Linux address families of IP sockets (AF_INET, AF_INET6), with Linux's numbers: a gadget.yaml
/// names it (<c>gadget.enum: IpFamily</c>) for a field that holds a socket's family.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1707:Identifiers should not contain underscores", Justification = "Linux's names.")]
public enum IpFamily
{
    None = 0,
    IPv4 = 2,
    IPv6 = 10,
}
