<?php
// A webhook receiver for the USDT Gateway in plain PHP, following Standard Webhooks to
// the letter with hash_hmac and hash_equals (no package needed):
//   - the secret is "whsec_" + base64: the HMAC key is the decoded bytes;
//   - the signed content is "{webhook-id}.{webhook-timestamp}.{raw body}";
//   - webhook-signature is a space-separated list of "v1,<base64 HMAC-SHA256>" (several
//     while a secret rotates): any one matching is enough, other versions are ignored;
//   - a timestamp more than 5 minutes away from now is refused (replays).
//
//   WEBHOOK_SECRET=whsec_... php -S 127.0.0.1:8003 index.php

const TOLERANCE_SECONDS = 300;

function verify_webhook(string $secret, string $body, array $headers): array
{
    $id = $headers['webhook-id'] ?? '';
    $timestamp = $headers['webhook-timestamp'] ?? '';
    $signatures = $headers['webhook-signature'] ?? '';
    if ($id === '' || $timestamp === '' || $signatures === '') {
        throw new RuntimeException('missing webhook headers');
    }
    if (!ctype_digit($timestamp) || abs(time() - (int) $timestamp) > TOLERANCE_SECONDS) {
        throw new RuntimeException('timestamp outside the tolerance');
    }
    if (strncmp($secret, 'whsec_', 6) === 0) {
        $secret = substr($secret, 6);
    }
    $key = base64_decode($secret, true);
    if ($key === false || $key === '') {
        throw new RuntimeException('the secret is not base64');
    }
    $expected = base64_encode(hash_hmac('sha256', "$id.$timestamp.$body", $key, true));
    foreach (explode(' ', $signatures) as $versioned) {
        [$version, $signature] = array_pad(explode(',', $versioned, 2), 2, '');
        if ($version === 'v1' && hash_equals($expected, $signature)) {
            $event = json_decode($body, true);
            if (!is_array($event)) {
                throw new RuntimeException('the body is not JSON');
            }
            return $event;
        }
    }
    throw new RuntimeException('no matching signature');
}

function answer(int $status, array $body): void
{
    http_response_code($status);
    header('Content-Type: application/json');
    echo json_encode($body);
}

if ($_SERVER['REQUEST_METHOD'] !== 'POST' || parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH) !== '/webhooks') {
    answer(404, ['error' => 'not found']);
    return;
}
$headers = array_change_key_case(getallheaders(), CASE_LOWER);
$body = file_get_contents('php://input');
try {
    $event = verify_webhook((string) getenv('WEBHOOK_SECRET'), $body, $headers);
} catch (RuntimeException $e) {
    error_log('rejected: ' . $e->getMessage());
    answer(400, ['error' => 'invalid signature']);
    return;
}
// dedupe on webhook-id in your database (deliveries are at least once), answer fast and
// do the work (mark the order paid, ...) afterwards
error_log("accepted {$event['type']} {$headers['webhook-id']}");
answer(200, ['received' => $headers['webhook-id']]);
