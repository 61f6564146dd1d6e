# frozen_string_literal: true

require 'openssl'
require 'json'

module AsyncTaskCluster
  # The cluster's failure webhook (the gem's handle_perform_error, now an HTTP endpoint): events signed
  # `AsyncTask-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>` (several v1 while a
  # secret rotates).
  module Webhook
    HEADER = 'AsyncTask-Signature'

    # A signature that does not match, is missing, or is too old.
    class SignatureError < StandardError; end

    module_function

    # Verifies `body` (the raw request body) against `header` with any of `secrets`, within `tolerance`
    # seconds of `now`; returns the parsed event.
    def verify!(body, header, secrets, tolerance: 300, now: Time.now.to_i)
      raise SignatureError, "missing #{HEADER} header" if header.nil? || header.empty?

      timestamp = nil
      signatures = []
      header.split(',').each do |part|
        key, value = part.strip.split('=', 2)
        next if value.nil?

        timestamp = Integer(value, exception: false) if key == 't'
        signatures << value if key == 'v1'
      end
      raise SignatureError, "#{HEADER} has no t= timestamp" if timestamp.nil?
      raise SignatureError, "#{HEADER} is #{(now - timestamp).abs} s away from now (tolerance #{tolerance} s)" if (now - timestamp).abs > tolerance

      expected = Array(secrets).map { |secret| OpenSSL::HMAC.hexdigest('SHA256', secret.to_s, "#{timestamp}.#{body}") }
      matched = signatures.any? do |given|
        expected.any? { |want| given.bytesize == want.bytesize && OpenSSL.fixed_length_secure_compare(given, want) }
      end
      raise SignatureError, "#{HEADER} does not match the body" unless matched

      JSON.parse(body)
    end
  end

  # A Rails controller concern receiving the webhook:
  #
  #   class AsyncTaskEventsController < ActionController::API
  #     include AsyncTaskCluster::WebhookReceiver
  #     def async_task_webhook_secrets = [ENV.fetch('ASYNCTASK_WEBHOOK_SECRET')]
  #     def handle_perform_error(event) = Sentry.capture_message("#{event['event']}: #{event.dig('error', 'message')}")
  #   end
  #   # routes.rb: post '/async-task/events', to: 'async_task_events#receive'
  #
  # A bad signature answers 401, which the cluster counts as a permanent failure of that delivery.
  module WebhookReceiver
    def receive
      event = Webhook.verify!(request.raw_post, request.headers[Webhook::HEADER], async_task_webhook_secrets)
      handle_perform_error(event)
      head :no_content
    rescue Webhook::SignatureError => e
      render plain: e.message, status: :unauthorized
    end
  end
end
