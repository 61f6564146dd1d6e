# frozen_string_literal: true

# A Rails endpoint for the cluster's failure webhook as the README's step 3 sets it up: an ActionController::API
# controller that includes AsyncTaskCluster::WebhookReceiver, routed by ActionDispatch and served by WEBrick
# through Rack, for Tests/ClusterTests/RailsClusterTests.swift. Each event the concern verified and handed to
# handle_perform_error is appended to RECORD with the raw body and signature header, so the test can replay them.
#
#   ruby webhook_app.rb RECORD SECRET     prints "listening on http://127.0.0.1:PORT/async-task/events"
$LOAD_PATH.unshift(File.expand_path('../lib', __dir__))
require 'async_task_cluster'
require 'action_controller'
require 'rack/handler/webrick'
$stdout.sync = true

RECORD = ARGV.fetch(0)
SECRET = ARGV.fetch(1)

class AsyncTaskEventsController < ActionController::API
  include AsyncTaskCluster::WebhookReceiver

  def async_task_webhook_secrets = [SECRET]

  def handle_perform_error(event)
    line = JSON.generate(event: event, body: request.raw_post, signature: request.headers[AsyncTaskCluster::Webhook::HEADER])
    File.open(RECORD, 'a') { |file| file.puts(line) }
  end
end

ROUTES = ActionDispatch::Routing::RouteSet.new
ROUTES.draw { post '/async-task/events', to: 'async_task_events#receive' }

server = WEBrick::HTTPServer.new(BindAddress: '127.0.0.1', Port: 0, Logger: WEBrick::Log.new(File::NULL), AccessLog: [])
server.mount('/', Rack::Handler::WEBrick, ROUTES)
trap('TERM') { server.shutdown }
puts "listening on http://127.0.0.1:#{server.listeners.first.addr[1]}/async-task/events"
server.start
