#Requires -Version 7.6
# Trace-GadgetDns through the built module, the way a runbook runs it: the seed's
# `Trace-GadgetDns | Where Rcode -ne 0` pipeline and Export-Csv of DNS events. A dnsmasq on
# 127.0.79.1 answers (or refuses) and a UDP socket on 127.0.79.2 never answers; dig asks both.
param([string] $ModulePath = $env:GADGET_MODULE_PATH)

BeforeDiscovery {
    $script:SkipKernel = -not ($env:CI -eq 'true' -or ($IsLinux -and [Environment]::IsPrivilegedProcess -and (Test-Path /sys/kernel/btf/vmlinux)))
}

BeforeAll {
    Import-Module (Join-Path $ModulePath 'Gadget.psd1') -Force

    function Start-TestDnsmasq {
        param([string] $Address)
        $pidFile = Join-Path ([IO.Path]::GetTempPath()) "gadget-dns-pester-$([Guid]::NewGuid().ToString('N')).pid"
        $arguments = @('--no-daemon', '--conf-file=/dev/null', '--port=53', '--bind-interfaces', '--no-resolv', '--no-hosts',
            "--pid-file=$pidFile", "--listen-address=$Address", '--address=/known.test/127.1.2.3', '--address=/nx.test/')
        $process = Start-Process dnsmasq -ArgumentList $arguments -PassThru -RedirectStandardError "$pidFile.log"
        $watch = [Diagnostics.Stopwatch]::StartNew()
        while ($watch.Elapsed.TotalSeconds -lt 10) {
            if ((& dig "@$Address" +short +tries=1 +timeout=1 known.test) -contains '127.1.2.3') { return $process }
            if ($process.HasExited) { throw "dnsmasq exited: $(Get-Content "$pidFile.log" -Raw)" }
            Start-Sleep -Milliseconds 100
        }
        $process.Kill()
        throw 'dnsmasq did not start answering.'
    }

    function Start-DnsActivity {
        # dig, every 300 ms until stopped: a name that resolves, one that does not exist, one the
        # server refuses, and one sent to a server that never answers.
        param([string] $Marker, [string] $Server, [string] $Silent)
        Start-ThreadJob -ArgumentList $Marker, $Server, $Silent -ScriptBlock {
            param($Marker, $Server, $Silent)
            while ($true) {
                $null = & dig "@$Server" +tries=1 +timeout=1 "$Marker.known.test"
                $null = & dig "@$Server" +tries=1 +timeout=1 "$Marker.nx.test"
                $null = & dig "@$Server" +tries=1 +timeout=1 "$Marker.refused.test"
                $null = & dig "@$Silent" +tries=1 +timeout=1 "$Marker.silent.test"
                Start-Sleep -Milliseconds 300
            }
        }
    }
}

Describe 'Trace-GadgetDns -Local' -Skip:$SkipKernel {
    BeforeAll {
        $script:Dnsmasq = Start-TestDnsmasq -Address 127.0.79.1
        $script:SilentServer = [Net.Sockets.UdpClient]::new([Net.IPEndPoint]::new([ipaddress]'127.0.79.2', 53))
        $script:Marker = 'm' + [Guid]::NewGuid().ToString('N').Substring(0, 10)
        $activity = Start-DnsActivity -Marker $Marker -Server 127.0.79.1 -Silent 127.0.79.2
        try {
            # The seed's pipeline, with -Local: every failure, and only failures.
            $script:Failures = @(Trace-GadgetDns -Local -Duration 14 -ResponseTimeout 1 -Name "$Marker.*" |
                Tee-Object -Variable all |
                Where-Object Rcode -ne 0)
            $script:All = @($all)
        }
        finally {
            $activity | Stop-Job -PassThru | Remove-Job -Force
        }
    }

    AfterAll {
        if ($script:Dnsmasq -and -not $script:Dnsmasq.HasExited) { $script:Dnsmasq.Kill(); $script:Dnsmasq.WaitForExit() }
        if ($script:SilentServer) { $script:SilentServer.Dispose() }
    }

    It 'writes Gadget.DnsEvent objects for queries and responses' {
        $All.Count | Should -BeGreaterThan 0
        $All | ForEach-Object { $_ | Should -BeOfType ([Gadget.DnsEvent]) }
        $All.Qr | Sort-Object -Unique | Should -Be @([Gadget.DnsQr]::Query, [Gadget.DnsQr]::Response)
    }

    It 'passes only the names -Name selects (the filter runs in the agent)' {
        $All | ForEach-Object { $_.Name | Should -BeLike "$Marker.*.test." }
    }

    It 'resolves the known name, with its address, its nameserver and a latency' {
        $answer = $All | Where-Object { $_.Name -eq "$Marker.known.test." -and $_.Qr -eq 'Response' -and $_.PacketType -eq 'Host' } | Select-Object -First 1
        $answer | Should -Not -BeNullOrEmpty
        $answer.Rcode | Should -Be 'NoError'
        [string]$answer.Addresses | Should -Be '127.1.2.3'
        $answer.Nameserver | Should -Be ([ipaddress]'127.0.79.1')
        $answer.Latency | Should -BeOfType ([timespan])
        $answer.Comm | Should -Match '^(dig|isc-)'
    }

    It 'keeps, with Where Rcode -ne 0, exactly the failures: NXDomain, Refused and NoResponse' {
        $Failures.Count | Should -BeGreaterThan 0
        $kinds = $Failures | ForEach-Object { "$($_.Name.Split('.')[1]) $($_.Rcode)" } | Sort-Object -Unique
        $kinds | Should -Be @('nx NXDomain', 'refused Refused', 'silent NoResponse')
    }

    It 'lets no successful response or plain query through Where Rcode -ne 0' {
        $passed = $All | Where-Object { $_.Rcode -eq 'NoError' }
        $passed.Count | Should -BeGreaterThan 0
        $Failures | Where-Object { $_.Name -like "$Marker.known.test." } | Should -BeNullOrEmpty
        $Failures | Where-Object { $_.Qr -eq 'Query' -and $_.Rcode -ne 'NoResponse' } | Should -BeNullOrEmpty
    }

    It 'reports an unanswered query once per query, as Rcode NoResponse on the query' {
        $queries = @($All | Where-Object { $_.Name -eq "$Marker.silent.test." -and $_.Rcode -eq 'NoError' })
        $unanswered = @($All | Where-Object Rcode -eq 'NoResponse')
        $unanswered.Count | Should -BeGreaterThan 0
        $unanswered | ForEach-Object {
            $_.Qr | Should -Be 'Query'
            $_.Nameserver | Should -Be ([ipaddress]'127.0.79.2')
            $_.Latency | Should -BeNullOrEmpty
            $_.Id | Should -BeIn $queries.Id
        }
        @($unanswered.Id | Sort-Object -Unique).Count | Should -Be $unanswered.Count
    }

    It 'filters with Where Rcode -eq NXDomain by name' {
        @($All | Where-Object Rcode -eq 'NXDomain').Count | Should -BeGreaterThan 0
        $All | Where-Object Rcode -eq 'NXDomain' | ForEach-Object { $_.Name | Should -Be "$Marker.nx.test." }
    }

    It 'exports to CSV with readable addresses, endpoints and codes' {
        $csv = Join-Path ([IO.Path]::GetTempPath()) "gadget-dns-$Marker.csv"
        try {
            $All | Export-Csv -Path $csv -NoTypeInformation
            $rows = @(Import-Csv $csv)
            $rows.Count | Should -Be $All.Count
            $columns = $rows[0].PSObject.Properties.Name
            foreach ($column in 'Timestamp', 'Node', 'Pid', 'Tid', 'Comm', 'Uid', 'Qr', 'PacketType', 'Id', 'QType', 'Name', 'Rcode', 'NumAnswers', 'Addresses', 'Nameserver', 'Src', 'Dst', 'Protocol', 'Latency') {
                $columns | Should -Contain $column
            }
            $answer = $rows | Where-Object { $_.Name -eq "$Marker.known.test." -and $_.Qr -eq 'Response' -and $_.PacketType -eq 'Host' } | Select-Object -First 1
            $answer.Addresses | Should -Be '127.1.2.3'
            $answer.Src | Should -Be '127.0.79.1:53'
            $answer.QType | Should -Be 'A'
            $answer.Protocol | Should -Be 'Udp'
            [timespan]$answer.Latency | Should -BeGreaterThan ([timespan]::Zero)
            @($rows | Where-Object Rcode -eq 'NoResponse').Count | Should -BeGreaterThan 0
        }
        finally {
            Remove-Item $csv -ErrorAction Ignore
        }
    }

    It 'shows the table view with RCODE empty for queries' {
        $query = $All | Where-Object { $_.Qr -eq 'Query' -and $_.Rcode -eq 'NoError' } | Select-Object -First 1
        $failure = $Failures | Where-Object Rcode -eq 'NXDomain' | Select-Object -First 1
        $table = @($query, $failure) | Format-Table | Out-String -Width 120
        $table | Should -Match 'TIME\s+PID\s+COMM\s+QR\s+QTYPE\s+NAME\s+RCODE\s+ANS\s+LATENCY\s+NAMESERVER'
        $lines = $table -split "`n" | Where-Object { $_ -match $Marker }
        $lines[0] | Should -Not -Match 'NoError'
        $lines[1] | Should -Match 'NXDomain'
    }
}
